"""A generated fast path for the validator: straight-line code for the common, valid item.

Why generate code: validating an item field by field through closures spends
most of its time on function calls, loops and tuple unpacking, more than the
database write it precedes; the same checks written out as one function do not
(benchmarks/validator_benchmark.py measures both; ADR 0005).
The generated function only ever *accepts*: for every field it tests the
cheapest sufficient condition for "valid and already normalized", and at the
first doubt it hands the whole item to the reference validator, which is exact
and collects every error. So the fast path can be incomplete (date-times
not written as `...Z`, lenient coercions, every error) but never different: a property test
(tests/unit/test_fast_path.py) asserts both paths return the same row for
generated items.

The generated source is registered with `linecache` under a name that says
what it validates, so tracebacks and `inspect.getsource` show its lines.
PARTNER_INGEST_FAST_VALIDATOR=false turns the fast path off (every item takes
the reference validator), for debugging a suspected difference.
"""

from __future__ import annotations

import hashlib
import linecache
import re
from collections.abc import Callable
from datetime import datetime as _datetime
from decimal import Decimal
from typing import Any, Final

from .currencies import MINOR_UNITS, quantum
from .policy import FeedLimits, Mode
from .product import PRODUCT_COLUMNS
from .rules import FeedContract, FieldRule, Kind

__all__ = ["build_fast_path"]

FastPath = Callable[[object, int], Any]

# Numbers written as text (CSV, XML) take the fast path when they are canonical
# ("canonical numbers" below): the text is what str() writes for the number that int()
# or Decimal() reads from it. That is exactly the reference's `-?[0-9]+(\.[0-9]+)?`
# without leading zeros, for less than matching that regex first would cost.

# Negative zero ("-0", "-0.00", a JSON -0.0) is a valid amount whose sign must not
# reach the store; the reference path drops it, so the fast path defers every one.
# Textual numbers starting "-0" are that or negative (out of every range but -0).

# Fields the fast path never handles: their items go to the reference path.
_SLOW_FIELDS: Final = frozenset({"sale_price", "sale_starts_at", "sale_ends_at"})


_GTIN_PATTERN: Final = r"[0-9]{8}|[0-9]{12,14}"
"""The GTIN rule's pattern, copied on purpose: the length-and-isdecimal test is proven equal to
this text alone, so a rule whose pattern changes keeps its regex instead (as `_ASCII_SUBSETS`)."""
_GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})
_GTIN_OFFSETS: Final = tuple((2 * n + 4 * (n // 2)) % 10 for n in range(15))
"""By a GTIN's length: what makes its digits' bytes, summed as the checksum weighs them, a
multiple of 10 exactly when its digits' weighted sum is (see `_Builder.text`)."""

_ASCII_SUBSETS: Final = {
    r"[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007F/?#@\uD800-\uDFFF\uFFFE\uFFFF]+"
    r"(?:[/?#][^\u0000-\u0020\u007F\uD800-\uDFFF\uFFFE\uFFFF]*)?": r'https?://[!-"$-.0->A-~]+(?:[/?#][!-~]*)?',
}
"""A pattern, and one whose every match it matches too, over printable ASCII only: the
regex engine tests a small ASCII class by a bitmap, where the exact class (its surrogates
and noncharacters) costs a search per character. An image URL as most feeds write it
passes the cheaper one; any other is judged by the exact pattern."""

_REMEMBERED: Final = 256
"""Texts of an object's decimal member, or of a date-time, kept as known to pass, per rule
(see `remembered_number` and `_Builder.datetime`)."""
_REMEMBERED_CHARS: Final = 32
"""The longest text kept: a number's text is short, a cap keeps the memory small."""

_SLOW: Final = "return SLOW(item, index)"
"""What generated code does at the first doubt: hand the whole item to the reference validator."""


class _Builder:
    def __init__(self, mode: Mode, textual: bool, max_field_chars: int) -> None:
        self.lenient = mode is Mode.LENIENT
        self.textual = textual
        self.max_field_chars = max_field_chars
        self.lines: list[str] = []
        self.names: dict[str, object] = {"Decimal": Decimal}

    def const(self, name: str, value: object) -> str:
        self.names[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def field(self, rule: FieldRule, source: str, var: str, depth: int, *, member: bool = False) -> None:
        """Code that leaves the normalized value of `rule` in `var`, or returns SLOW(...);
        `member`: a member of an object, of which the row keeps a number's text alone."""
        self.emit(depth, f"{var} = {source}.get({rule.name!r})")
        if rule.required:
            self.emit(depth, f"if {var} is None: return SLOW(item, index)")
            self.value(rule, var, depth, member=member)
        else:
            self.emit(depth, f"if {var} is not None:")
            self.value(rule, var, depth + 1, member=member)

    def datetime(self, rule: FieldRule, var: str) -> None:
        """Code for a date-time, read into `var`, in its most common spelling, `2026-11-27T08:00:00Z`: the
        reference's UTC ISO form of it (`+00:00`) in `var`, the instant in `var_at`; any other
        spelling, and anything fromisoformat refuses (year 0, a leap second), is SLOW.

        The items of a sale share a few windows: a text read before (up to `_REMEMBERED`
        of them per rule) takes its instant and form from a dict instead of a regex and a
        fromisoformat; only a text that passed both is kept."""
        canonical = self.const(
            "UTC_Z", re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").fullmatch
        )
        instant = self.const("FROMISO", _datetime.fromisoformat)
        passed = self.const("PASSED_" + rule.name, {})
        self.emit(1, f"{var}_at = None")
        self.emit(1, f"if {var} is not None:")
        # A list or dict is unhashable: the class test comes first.
        self.emit(2, f"{var}_known = {passed}.get({var}) if {var}.__class__ is str else None")
        self.emit(2, f"if {var}_known is None:")
        self.emit(3, f"if {var}.__class__ is not str or {canonical}({var}) is None: return SLOW(item, index)")
        self.emit(3, f"try: {var}_at = {instant}({var})")
        self.emit(3, "except ValueError: return SLOW(item, index)")
        # What isoformat() writes for that instant, without its cost (a tzinfo call): the
        # spelling matched is fixed-width, a valid date and no fraction, so only the zone differs.
        self.emit(3, f"{var}_known = ({var}_at, {var}[:-1] + '+00:00')")
        self.emit(3, f"if len({passed}) < {_REMEMBERED}: {passed}[{var}] = {var}_known")
        self.emit(2, f"{var}_at, {var} = {var}_known")

    def value(self, rule: FieldRule, var: str, depth: int, *, member: bool = False) -> None:
        """Code that leaves the normalized value of `rule`, read into `var`, in `var`, or returns SLOW(...)."""
        if rule.kind is Kind.TEXT:
            self.text(rule, var, depth)
        elif rule.kind is Kind.DECIMAL and member and self.textual:
            self.remembered_number(rule, var, depth)
        elif rule.kind in (Kind.DECIMAL, Kind.INTEGER):
            self.number(rule, var, depth)
        elif rule.kind is Kind.OBJECT:
            # Its names exactly the rule's: as many, and none other (`issuperset` of a dict
            # reads its keys without the generic comparison of a keys view).
            names = frozenset(m.name for m in rule.fields)
            keys = self.const("KEYS_" + rule.name, names.issuperset)
            self.emit(
                depth,
                f"if {var}.__class__ is not dict or len({var}) != {len(names)} or not {keys}({var}): {_SLOW}",
            )
            for inner in rule.fields:
                self.field(inner, var, f"{var}_{inner.name}", depth, member=True)
        else:  # Kind.DATETIME and anything new: the reference path knows it
            self.emit(depth, _SLOW)

    def text(self, rule: FieldRule, var: str, depth: int) -> None:
        """A text field: every test of the reference's in one condition."""
        slow, key = _SLOW, rule.name
        tests = [f"{var}.__class__ is str"]
        shortest = max(rule.min_length or 0, 1 if self.lenient else 0)
        # Past the feed's field cap is a feed error, which only the reference path raises.
        longest = min(rule.max_length or self.max_field_chars, self.max_field_chars)
        gtin = rule.gtin_checksum and rule.pattern == _GTIN_PATTERN
        # The lengths a value may have, where a later test admits fewer: the choices', the GTIN's.
        admitted = {len(c) for c in rule.choices} if rule.choices else _GTIN_LENGTHS if gtin else None
        if admitted is None or not all(shortest <= n <= longest for n in admitted):
            # (no lower bound to test at 0: every length is at least that)
            tests.append(f"{shortest} <= len({var}) <= {longest}" if shortest else f"len({var}) <= {longest}")
        if self.lenient:
            tests.append(f"{var}.strip() is {var}")  # nothing to strip (CPython returns self)
        if rule.forbidden_chars:
            # The reference's own test: isprintable() for the common text, the exact
            # rule otherwise (a description's line breaks and tabs are allowed).
            forbidden = self.const("FORBIDDEN_" + key, re.compile(f"[{rule.forbidden_chars}]").search)
            tests.append(f"({var}.isprintable() or {forbidden}({var}) is None)")
        if rule.choices:
            tests.append(f"{var} in {self.const('CHOICES_' + key, frozenset(rule.choices))}")
        if gtin:
            # The GTIN pattern's own language without the regex engine: isdecimal() of ASCII
            # text is "0-9 only", and the lengths are the pattern's.
            lengths = self.const("LENGTHS_" + key, _GTIN_LENGTHS)
            tests.append(f"len({var}) in {lengths} and {var}.isascii() and {var}.isdecimal()")
        elif rule.pattern:
            exact = f"{self.const('MATCH_' + key, re.compile(rule.pattern).fullmatch)}({var}) is not None"
            subset = _ASCII_SUBSETS.get(rule.pattern)
            if subset is not None:  # a plain ASCII value passes the cheaper pattern, any other the exact one
                exact = f"({self.const('ASCII_' + key, re.compile(subset).fullmatch)}({var}) is not None or {exact})"
            tests.append(exact)
        if rule.gtin_checksum:
            # checksums.gtin_check_digit_ok written out: the call costs more than the arithmetic.
            # The pattern has passed: ASCII digits (the byte of digit d is 48 + d). With the check
            # digit weighted 1, every digit counts once and those in odd places from the right
            # (weight 3) twice more; the bytes' 48s add a constant per length, its complement
            # mod 10 in OFFSET (2 n + 4 (n // 2), the same sum's 48s as -48 = 2 and -96 = 4 mod 10).
            offset = (
                f"{self.const('OFFSET_' + key, _GTIN_OFFSETS)}[len(g)]"
                if gtin
                else "2 * len(g) + 4 * (len(g) >> 1)"
            )
            tests.append(f"(g := {var}.encode()) and (sum(g) + 2 * sum(g[-2::-2]) + {offset}) % 10 == 0")
        self.emit(depth, f"if not ({' and '.join(tests)}): {slow}")

    def number(self, rule: FieldRule, var: str, depth: int) -> None:
        """A decimal or integer field: typed, or canonical text (see "canonical numbers"), in range."""
        slow, key = _SLOW, rule.name
        low = self.const("LOW_" + key, rule.minimum)
        high = self.const("HIGH_" + key, rule.maximum)
        comparison = "<" if rule.exclusive_minimum else "<="
        in_range = f"{low} {comparison} {var} <= {high}"
        if rule.kind is Kind.INTEGER:
            if self.textual:
                # Canonical digits only: str(int(text)) == text rules out "+5", " 5", "5_0",
                # "05" and other scripts' digits, all of which int() takes (see "canonical numbers").
                self.emit(depth, f"if {var}.__class__ is not str or len({var}) > 19: {slow}")
                self.emit(depth, f"try: {var}_n = int({var})")
                self.emit(depth, f"except ValueError: {slow}")
                self.emit(depth, f"if str({var}_n) != {var}: {slow}")
                self.emit(depth, f"{var} = {var}_n")
            else:
                self.emit(depth, f"if {var}.__class__ is not int: {slow}")
            self.emit(depth, f"if not ({in_range}): {slow}")
        else:
            if self.textual:
                # As above, and "E" and is_finite() rule out 1E+5, NaN and Infinity, which
                # str() of a Decimal writes back as they came (see "canonical numbers").
                self.emit(depth, f"if {var}.__class__ is not str or 'E' in {var}: {slow}")
                self.emit(depth, f"try: {var}_n = Decimal({var})")
                self.emit(depth, f"except ArithmeticError: {slow}")
                self.emit(
                    depth,
                    f"if str({var}_n) != {var} or not {var}_n.is_finite() or {var}.startswith('-0'): {slow}",
                )
                self.emit(depth, f"{var}_text = {var}; {var} = {var}_n")
            else:
                self.emit(depth, f"if {var}.__class__ is Decimal:")
                # Negative zero too: the reference path drops its sign (see "negative zero").
                self.emit(depth + 1, f"if not {var}.is_finite() or (not {var} and {var}.is_signed()): {slow}")
                self.emit(depth, f"elif {var}.__class__ is int: {var} = Decimal({var})")
                self.emit(depth, f"else: {slow}")
            self.emit(depth, f"if not ({in_range}): {slow}")

    def remembered_number(self, rule: FieldRule, var: str, depth: int) -> None:
        """A decimal member of an object written as text, whose text alone the row keeps (see
        `dimensions`): the checks of `number`, skipped for a text that has passed them before.

        Whether a text passes depends on the text and the rule alone, and objects such as the
        dimensions repeat a few values across a feed: the texts that passed are kept, up to
        `_REMEMBERED` short ones (per generated validator, so per rule), and one that is
        kept costs a set lookup instead of a Decimal read, written back and compared."""
        passed = self.const("PASSED_" + rule.name, set())
        # A list or dict (a repeated or nested element) is unhashable: the class test comes first.
        self.emit(depth, f"if {var}.__class__ is not str or {var} not in {passed}:")
        self.number(rule, var, depth + 1)
        self.emit(
            depth + 1,
            f"if len({passed}) < {_REMEMBERED} and len({var}_text) <= {_REMEMBERED_CHARS}: {passed}.add({var}_text)",
        )
        self.emit(depth, f"else: {var}_text = {var}")

    def dimensions(self, rule: FieldRule, var: str) -> None:
        """The object of the dimensions, its members as the row's w, h, d and u (None when absent)."""
        self.emit(1, f"{var} = item.get({rule.name!r})")
        self.emit(1, f"if {var} is None:")
        self.emit(2, "w = h = d = u = None")
        self.emit(1, "else:")
        self.value(rule, var, 2)
        if self.textual:  # the text is the number's str() already (see "canonical numbers")
            self.emit(2, f"w = {var}_width_text; h = {var}_height_text; d = {var}_depth_text; u = {var}_unit")
        else:
            self.emit(2, f"w = str({var}_width); h = str({var}_height); d = str({var}_depth); u = {var}_unit")

    def price(self, depth: int) -> None:
        """The price's cross-field rule: no more decimals than its currency allows (its exact
        form in `exact`)."""
        self.emit(depth, "step = QUANTA[v_currency]")
        self.emit(depth, "exact = v_price.quantize(step)")
        self.emit(depth, "if exact != v_price: return SLOW(item, index)")

    def required_only(self, required: int, slots: dict[str, str]) -> None:
        """The row of an item that holds its required fields alone, all read and normalized by
        now (`slots`: the row so far, every other column None): it has no other member, so
        every optional field is absent, and of the cross-field rules only the price's applies."""
        self.emit(1, f"if len(item) == {required}:")
        self.price(2)
        self.emit(2, f"return ({', '.join(slots.values())})")

    def cross_field(self, contract: FeedContract) -> None:
        """The cross-field rules: the price has no more decimals than its currency allows (its
        exact form in `exact`), and the sale's: the same, not above the price, and a window that
        ends after it starts."""
        self.price(1)
        if contract.field("sale_price") is None:
            return
        self.emit(1, "if v_sale_price is not None:")
        self.emit(2, "exact_sale = v_sale_price.quantize(step)")
        self.emit(2, "if exact_sale != v_sale_price or exact_sale > exact: return SLOW(item, index)")
        self.emit(2, "v_sale_price = str(exact_sale)")
        if contract.field("sale_starts_at") is not None and contract.field("sale_ends_at") is not None:
            self.emit(1, "if v_sale_starts_at_at is not None and v_sale_ends_at_at is not None:")
            self.emit(2, "if v_sale_starts_at_at >= v_sale_ends_at_at: return SLOW(item, index)")


_Factory = Callable[[str, FastPath], FastPath]
_FACTORIES: dict[tuple[int, Mode, bool, int], tuple[FeedContract, _Factory, str]] = {}
"""Generated code by (contract, mode, source kind, field cap): the contract, the factory
and the linecache name of its source. Compiling costs more than validating a small feed
(a sync POST of one item), which would otherwise pay it every time."""
_MAX_FACTORIES: Final = 64


def build_fast_path(
    contract: FeedContract,
    mode: Mode,
    *,
    textual: bool,
    partner_id: str,
    slow: FastPath,
    limits: FeedLimits,
) -> FastPath:
    """The generated `validate(item, index)` for one (contract, mode, source kind, limits),
    bound to one partner and its reference validator."""
    key = (id(contract), mode, textual, limits.max_field_chars)
    found = _FACTORIES.get(key)
    if found is None or found[0] is not contract:  # `is`: an id is only unique while its object lives
        if len(_FACTORIES) >= _MAX_FACTORIES:
            for _, _, filename in _FACTORIES.values():
                linecache.cache.pop(filename, None)
            _FACTORIES.clear()
        factory, filename = _generate(contract, mode, textual, limits.max_field_chars)
        found = _FACTORIES[key] = (contract, factory, filename)
    return found[1](partner_id, slow)


def _generate(
    contract: FeedContract, mode: Mode, textual: bool, max_field_chars: int
) -> tuple[_Factory, str]:
    """The factory of `validate` and the name its source is registered under; the factory
    binds PARTNER and SLOW (closure cells, which are also quicker to read than globals)."""
    b = _Builder(mode, textual, max_field_chars)
    b.names.update(
        KNOWN=contract.field_names.issuperset,  # every name of the item a known one
        QUANTA={code: quantum(code) for code in MINOR_UNITS},
    )
    b.emit(0, "def validate(item, index):")
    b.emit(1, "if item.__class__ is not dict or not KNOWN(item): return SLOW(item, index)")
    slots = dict.fromkeys(PRODUCT_COLUMNS, "None")
    slots["partner_id"] = "PARTNER"
    # Where every required field has been read: an item of those fields alone is a row there
    # (most items of a feed of few fields), without a test per optional field it does not hold.
    required = [n for n, rule in enumerate(contract.fields) if rule.required]
    last_required = required[-1] if required else -1
    read: set[str] = set()
    """Fields already read into `v_<name>`: None there exactly when absent or null in the item
    (a value read is normalized or handed to SLOW, never made None)."""
    for n, rule in enumerate(contract.fields):
        var = f"v_{rule.name}"
        if rule.kind is Kind.DATETIME:
            # Read once, for the rule it requires and for its own checks.
            b.emit(1, f"{var} = item.get({rule.name!r})")
            this = var
        else:
            this = f"item.get({rule.name!r})"
        if rule.requires:
            present = " or ".join(
                f"v_{name} is None" if name in read else f"item.get({name!r}) is None"
                for name in rule.requires
            )
            b.emit(1, f"if {this} is not None and ({present}): return SLOW(item, index)")
        if rule.kind is not Kind.OBJECT:
            read.add(rule.name)
        if rule.kind is Kind.DATETIME:
            b.datetime(rule, var)
            slots[rule.name] = var
            continue
        if rule.kind is Kind.OBJECT:
            b.dimensions(rule, var)
            slots.update(width="w", height="h", depth="d", dimension_unit="u")
            continue
        b.field(rule, "item", var, 1)
        slots[rule.name] = var
        if n == last_required and {"price", "currency"} <= read:
            b.required_only(len(required), {**slots, "price": "str(exact)"})
    b.cross_field(contract)
    slots["price"] = "str(exact)"
    b.emit(1, f"return ({', '.join(slots.values())})")
    source = "\n".join(
        ["def make(PARTNER, SLOW):", *("    " + line for line in b.lines), "    return validate"]
    )
    filename = _source_name(contract, mode, textual, max_field_chars, source)
    # Registered so that tracebacks and inspect.getsource show the generated lines; no
    # modification time, so linecache.checkcache() keeps the entry (there is no file).
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = dict(b.names)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    factory: _Factory = namespace["make"]
    return factory, filename


def _source_name(contract: FeedContract, mode: Mode, textual: bool, max_field_chars: int, source: str) -> str:
    """The generated source's name in tracebacks: what it validates, and a digest of the
    source, since two contracts of one version (a test's own) generate different code."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    items = "textual" if textual else "typed"
    return (
        f"<partner_ingest fast validator: contract v{contract.version}, {mode}, {items} items,"
        f" fields up to {max_field_chars} chars, {digest}>"
    )
