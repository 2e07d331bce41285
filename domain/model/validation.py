"""The validator: one raw feed item in, a product row or every violation out.

A pure function of the item (ADR 0005): it never raises for bad input and
collects every problem of an item instead of stopping at the first. The checks
are compiled once per (contract, mode, source kind) from the field rules in
rules.py, the same rules the published JSON Schema is generated from.

This is the per-item hot path of every ingest; the budget is a few
microseconds per item, which is why checks are closures over precomputed
constants and the output is a storage row, not a `Product` (see product.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, NoReturn

from ._fast_path import build_fast_path
from .checksums import gtin_check_digit_ok
from .currencies import quantum
from .errors import MalformedFeedError
from .feed_source import UnreadableValue
from .hints import closest, enum_hint, field_hint
from .policy import FeedLimits, Mode
from .product import ProductRow, encode_extra
from .report import ErrorCode, ItemError
from .rules import CONTRACTS, RFC3339_DATETIME, FeedContract, FieldRule, Kind

__all__ = ["ItemValidator", "gtin_check_digit_ok"]

Check = Callable[[object], object]
"""A compiled field check: returns the normalized value or raises `_Rejected`."""

_INTEGER_TEXT: Final = re.compile(r"-?[0-9]+")
_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_RFC3339: Final = re.compile(RFC3339_DATETIME)
# Lenient mode also takes the space separator RFC 3339 mentions "for readability".
_RFC3339_LENIENT: Final = re.compile(RFC3339_DATETIME.replace("[Tt]", "[Tt ]"))

Problem = tuple[ErrorCode, str, str | None]
"""One violation found by a compiled check: code, message, field path (None: the field checked)."""


class _Rejected(Exception):
    """Raised by a compiled check; turned into item errors right away."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


def _reject(code: ErrorCode, message: str, field: str | None = None) -> NoReturn:
    raise _Rejected([(code, message, field)])


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


# --- compiling one rule into a check -----------------------------------------


def _text_check(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    lenient = mode is Mode.LENIENT
    min_len = rule.min_length or 0
    max_len = rule.max_length
    pattern = re.compile(rule.pattern).fullmatch if rule.pattern else None
    forbidden = re.compile(f"[{rule.forbidden_chars}]").search if rule.forbidden_chars else None
    choices = frozenset(rule.choices) if rule.choices else None
    checksum = rule.gtin_checksum
    hint = rule.pattern_hint
    field_cap = limits.max_field_chars

    def check(value: object) -> object:
        if value.__class__ is not str:
            # Lenient JSON: a number where text is expected (a SKU of 1001) is safe.
            # str(Decimal(n)), not str(n): str() of an int past 4300 digits raises.
            if lenient and not textual and value.__class__ is int:
                value = str(Decimal(value))
            elif lenient and not textual and value.__class__ is Decimal:
                value = str(value)
            else:
                _reject(ErrorCode.TYPE, f"expected a string, got {_type_name(value)}")
        assert isinstance(value, str)
        if len(value) > field_cap:
            raise _field_too_large(field_cap)
        if lenient:
            value = value.strip()
        size = len(value)
        if size < min_len or (max_len is not None and size > max_len):
            limit = f"at most {max_len}" if max_len is not None else "at least 1"
            if min_len and max_len is not None:
                limit = f"{min_len} to {max_len}"
            _reject(ErrorCode.LENGTH, f"must be {limit} characters long, got {size}")
        # isprintable() is a C fast path for the common case; the exact rule is the regex.
        if forbidden is not None and not value.isprintable() and forbidden(value):
            _reject(ErrorCode.FORMAT, "must not contain control characters")
        if choices is not None and value not in choices:
            folded = value.upper() if lenient else value
            if folded not in choices:
                folded = value.lower() if lenient else value
                if folded not in choices:
                    _reject(ErrorCode.ENUM, f"{value[:40]!r} is not one of the allowed values")
            value = folded
        if pattern is not None and pattern(value) is None:
            _reject(ErrorCode.FORMAT, f"must be {hint}")
        if checksum and not gtin_check_digit_ok(value):
            _reject(ErrorCode.CHECKSUM, "check digit does not match (GS1)")
        return value

    return check


def _number_from(
    value: object, lenient: bool, textual: bool, pattern: re.Pattern[str], noun: str = "a decimal number"
) -> Decimal:
    """A Decimal from a JSON number, or from text where the mode or source allows it."""
    if type(value) is Decimal:
        if value.is_finite():
            return value
    elif type(value) is int:
        return Decimal(value)
    elif type(value) is str and (textual or lenient):
        text = value.strip() if lenient else value
        if pattern.fullmatch(text):
            return Decimal(text)
        _reject(ErrorCode.FORMAT, f"{text[:40]!r} is not {noun}")
    elif type(value) is float and lenient:  # a float from an embedder's dict, never from our parsers
        number = Decimal(repr(value))
        if number.is_finite():
            return number
    _reject(ErrorCode.TYPE, f"expected a finite number, got {_type_name(value)}")


def _field_too_large(cap: int) -> MalformedFeedError:
    return MalformedFeedError(ErrorCode.FIELD_TOO_LARGE, f"is longer than {cap} characters")


def _refuse_long_number(value: object, textual: bool, limits: FeedLimits) -> None:
    """Raise the feed-level error for a JSON number past `max_number_chars`.

    Only reached for a number out of its field's range (every numeric rule has
    one, and in-range numbers are short), so valid items pay nothing. msgspec
    hands back integers of any length, so this is where JSON feeds meet the cap
    the standard library's decoder enforces while parsing. Textual formats
    (CSV, XML) carry numbers as text and their length is the field rules'
    business (ADR 0005).
    """
    if textual or value.__class__ is str:
        return
    if value.__class__ is int:
        too_long = value.bit_length() * 0.302 > limits.max_number_chars  # str() past 4300 digits raises
    else:
        too_long = len(str(value)) > limits.max_number_chars
    if too_long:
        raise MalformedFeedError(
            ErrorCode.NUMBER_TOO_LONG, f"has more than {limits.max_number_chars} characters"
        )


def _range_check(rule: FieldRule, number: Decimal) -> None:
    low, high = rule.minimum, rule.maximum
    if low is not None and (number <= low if rule.exclusive_minimum else number < low):
        _reject(
            ErrorCode.RANGE,
            f"must be {'greater than' if rule.exclusive_minimum else 'at least'} {low}",
        )
    if high is not None and number > high:
        _reject(ErrorCode.RANGE, f"must be at most {high}")


def _decimal_check(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    lenient = mode is Mode.LENIENT
    low = rule.minimum if rule.minimum is not None else Decimal("-Infinity")
    high = rule.maximum if rule.maximum is not None else Decimal("Infinity")
    exclusive = rule.exclusive_minimum

    def check(value: object) -> object:
        number = _number_from(value, lenient, textual, _DECIMAL_TEXT)
        if (number <= low if exclusive else number < low) or number > high:
            _refuse_long_number(value, textual, limits)
            _range_check(rule, number)
        if not number and number.is_signed():  # -0.00 is 0.00: stored and served without the sign
            return number.copy_abs()
        return number

    return check


def _integer_check(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    lenient = mode is Mode.LENIENT
    low = rule.minimum if rule.minimum is not None else Decimal("-Infinity")
    high = rule.maximum if rule.maximum is not None else Decimal("Infinity")
    # Lenient text may say "12.0"; strict text is digits only.
    pattern, noun = (_DECIMAL_TEXT, "a number") if lenient else (_INTEGER_TEXT, "an integer")

    def check(value: object) -> object:
        if value.__class__ is int:
            number: int = value
        else:
            # JSON Schema counts 5.0 as an integer, so strict mode does too.
            as_decimal = _number_from(value, lenient, textual, pattern, noun)
            # Range first: int() of Decimal("1E+100000000") would build a huge number.
            if not low <= as_decimal <= high:
                _refuse_long_number(value, textual, limits)
                _range_check(rule, as_decimal)
            if as_decimal != as_decimal.to_integral_value():
                _reject(ErrorCode.TYPE, f"expected an integer, got {as_decimal}")
            return int(as_decimal)
        if not low <= number <= high:
            _refuse_long_number(number, textual, limits)
            _range_check(rule, Decimal(number))
        return number

    return check


def _datetime_check(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    lenient = mode is Mode.LENIENT
    syntax = _RFC3339_LENIENT if lenient else _RFC3339

    def check(value: object) -> object:
        if value.__class__ is not str:
            _reject(ErrorCode.TYPE, f"expected an RFC 3339 date-time string, got {_type_name(value)}")
        text: str = value.strip() if lenient else value
        if not syntax.fullmatch(text):
            _reject(
                ErrorCode.FORMAT,
                "must be an RFC 3339 date-time with offset, e.g. 2026-11-27T08:00:00Z",
            )
        return _instant(text.upper())

    return check


def _instant(text: str) -> str:
    """The UTC ISO 8601 form of an RFC 3339 date-time already known to be well-formed."""
    date, _, time = text.replace(" ", "T").partition("T")
    if date.startswith("0000") or time[6:8] == "60":
        _reject(ErrorCode.RANGE, "must be an instant from year 1 to 9999, without a leap second")
    offset_at = max(time.rfind("+"), time.rfind("-"), time.rfind("Z"))
    clock, offset = time[:offset_at], time[offset_at:]
    if len(clock) > 15:  # Python keeps microseconds: cut the fraction to six digits
        clock = clock[:15]
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}{'+00:00' if offset == 'Z' else offset}")
    except ValueError:
        _reject(ErrorCode.FORMAT, f"{text[:40]!r} is not a date on the calendar")
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError:
        _reject(ErrorCode.RANGE, "must be an instant from year 1 to 9999 in UTC")


def _object_check(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    members = tuple((m.name, m.required, _compile(m, mode, textual, limits)) for m in rule.fields)
    known = frozenset(m.name for m in rule.fields)
    lenient = mode is Mode.LENIENT
    prefix = rule.name

    def check(value: object) -> object:
        if not isinstance(value, dict):
            _reject(ErrorCode.TYPE, f"expected an object, got {_type_name(value)}")
        out: dict[str, object] = {}
        problems: list[Problem] = []
        for name, required, member_check in members:
            member = value.get(name)
            if member is None or (lenient and member == ""):
                if required:
                    problems.append((ErrorCode.MISSING, "is required", f"{prefix}.{name}"))
                continue
            if member.__class__ is UnreadableValue:
                problems.append((member.code, member.message, f"{prefix}.{name}"))
                continue
            try:
                out[name] = member_check(member)
            except _Rejected as rejected:
                problems.extend(
                    (code, message, field or f"{prefix}.{name}") for code, message, field in rejected.problems
                )
        if not value.keys() <= known:
            unknown = sorted(value.keys() - known, key=str)
            for key in unknown:
                if value[key].__class__ is UnreadableValue:  # a repeated member name (JSON)
                    problems.append((value[key].code, value[key].message, f"{prefix}.{key}"))
            if lenient:
                # Kept like top-level unknown fields, under a dotted name (see _finish).
                out[_EXTRA] = {
                    f"{prefix}.{key}": value[key]
                    for key in unknown
                    if value[key] is not None and value[key].__class__ is not UnreadableValue
                }
            else:
                problems.extend(
                    (ErrorCode.UNKNOWN_FIELD, "is not part of the contract", f"{prefix}.{key}")
                    for key in unknown
                    if value[key].__class__ is not UnreadableValue
                )
        if problems:
            raise _Rejected(problems)
        return out

    return check


_EXTRA: Final = "__extra__"
"""Key under which an object check hands its unknown members to the item (lenient mode)."""

_COMPILERS: Final[dict[Kind, Callable[[FieldRule, Mode, bool, FeedLimits], Check]]] = {
    Kind.TEXT: _text_check,
    Kind.DECIMAL: _decimal_check,
    Kind.INTEGER: _integer_check,
    Kind.DATETIME: _datetime_check,
    Kind.OBJECT: _object_check,
}


def _compile(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    return _COMPILERS[rule.kind](rule, mode, textual, limits)


# --- the validator ------------------------------------------------------------


class ItemValidator:
    """Validates and normalizes the raw items of one partner's feed.

    `textual` says the feed format carries every value as text (CSV, XML): then
    numbers written as text are the format's own notation, accepted in strict
    mode too.

    Item problems are returned as values, never raised. The one exception is on
    purpose: in lenient mode unknown fields are stored verbatim, and when one of
    them exceeds a feed cap (`FeedLimits`: depth, text or number length) the
    validator raises `MalformedFeedError`, the same feed-level error the parsers
    raise for the same excess anywhere else in a document (ADR 0005).
    """

    def __init__(
        self,
        contract: FeedContract,
        mode: Mode,
        *,
        textual: bool,
        partner_id: str,
        limits: FeedLimits | None = None,
        fast: bool = True,
    ) -> None:
        mode = Mode(mode)  # a policy built from plain text ("lenient") must not read as strict
        self.contract = contract
        self._limits = limits or FeedLimits()
        self.mode = mode
        self._partner_id = partner_id
        self._lenient = mode is Mode.LENIENT
        self._textual = textual
        self._plan = tuple(
            (rule.name, rule.required, _compile(rule, mode, textual, self._limits))
            for rule in contract.fields
        )
        self._known = contract.field_names
        self._rules = {rule.name: rule for rule in contract.fields} | {
            f"{rule.name}.{member.name}": member for rule in contract.fields for member in rule.fields
        }
        self._objects = tuple(rule.name for rule in contract.fields if rule.kind is Kind.OBJECT)
        self._requires = tuple((rule.name, rule.requires) for rule in contract.fields if rule.requires)
        self._has_sale = contract.field("sale_price") is not None
        self._sku_check = next(check for name, _, check in self._plan if name == "sku")
        self._fast = fast
        self.validate: Callable[[object, int], ProductRow | list[ItemError]] = self.validate_exactly
        if fast:
            self.validate = build_fast_path(
                contract,
                mode,
                textual=textual,
                partner_id=partner_id,
                slow=self.validate_exactly,
                limits=self._limits,
            )

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Pickled as what it was built from (a parser process rebuilds it, ADR 0019):
        # the generated fast path is code, compiled again where it is unpickled.
        return (
            _rebuild_validator,
            (self.contract, self.mode, self._textual, self._partner_id, self._limits, self._fast),
        )

    def sku_of(self, raw: object, index: int) -> str | list[ItemError]:
        """The valid SKU of an item that only needs one (a delete, a patch), or its errors."""
        if not isinstance(raw, dict):
            return [
                ItemError(
                    index, None, "", ErrorCode.TYPE, f"an item must be an object, got {_type_name(raw)}"
                )
            ]
        value = raw.get("sku")
        sku = _error_sku(value, self._lenient, self._textual)
        if value is None or (self._lenient and value == ""):
            return [ItemError(index, sku, "sku", ErrorCode.MISSING, "is required")]
        if value.__class__ is UnreadableValue:
            return [ItemError(index, sku, "sku", value.code, value.message)]
        try:
            checked = self._sku_check(value)
        except _Rejected as rejected:
            return [
                ItemError(index, sku, field or "sku", code, message)
                for code, message, field in rejected.problems
            ]
        assert isinstance(checked, str)
        return checked

    def validate_exactly(self, raw: object, index: int) -> ProductRow | list[ItemError]:
        """The product row of a valid item, or every item error of an invalid one.

        `validate` is the same function behind a generated fast path for valid
        items (see _fast_path.py); this is the reference it defers to.
        """
        if not isinstance(raw, dict):
            return [
                ItemError(
                    index,
                    None,
                    "",
                    ErrorCode.TYPE,
                    f"an item must be an object, got {_type_name(raw)}",
                )
            ]
        item: dict[object, object] = raw
        out: dict[str, object] = {}
        errors: list[ItemError] | None = None
        lenient = self._lenient
        sku = _error_sku(item.get("sku"), lenient, self._textual)
        for name, required, check in self._plan:
            value = item.get(name)
            if value is None or (lenient and value == ""):
                if required:
                    errors = _add(errors, sku, index, name, ErrorCode.MISSING, "is required")
                continue
            if value.__class__ is UnreadableValue:  # a format's own words for what it could not read
                errors = _add(errors, sku, index, name, value.code, value.message)
                continue
            try:
                out[name] = check(value)
            except _Rejected as rejected:
                for code, message, field in rejected.problems:
                    errors = _add(errors, sku, index, field or name, code, message)
            except MalformedFeedError as error:  # a feed cap (see _refuse_long_number)
                raise MalformedFeedError(
                    error.error.code, f"item {index}: {name} {error.error.message}"
                ) from None

        extra: dict[str, object] | None = None
        if not item.keys() <= self._known:
            unknown = sorted(item.keys() - self._known, key=str)
            if lenient:
                extra = {}
                for key in unknown:
                    if item[key] is None:
                        continue
                    if item[key].__class__ is UnreadableValue:  # a repeated member name (JSON)
                        errors = _add(errors, sku, index, str(key), item[key].code, item[key].message)  # type: ignore[attr-defined]
                        continue
                    if key.__class__ is not str:
                        errors = _add(errors, sku, index, str(key), ErrorCode.TYPE, "field names are text")
                        continue
                    extra[key] = item[key]
            else:
                for key in unknown:
                    if item[key].__class__ is UnreadableValue:
                        errors = _add(errors, sku, index, str(key), item[key].code, item[key].message)  # type: ignore[attr-defined]
                        continue
                    errors = _add(
                        errors,
                        sku,
                        index,
                        str(key),
                        ErrorCode.UNKNOWN_FIELD,
                        "is not part of this feed version's contract",
                    )
        for name in self._objects:
            members = out.get(name)
            if isinstance(members, dict) and _EXTRA in members:
                extra = {**(extra or {}), **members.pop(_EXTRA)}
        if extra:
            for key, value in extra.items():
                # A member kept from an object ("dimensions.x") sits one level deeper.
                depth = 2 if key.partition(".")[0] in self._objects else 1
                problem = _kept_value_problem(value, self._limits, index, key, depth, key)
                if problem is not None:
                    if isinstance(problem, UnreadableValue):
                        errors = _add(errors, sku, index, key, problem.code, problem.message)
                    else:
                        errors = _add(errors, sku, index, key, ErrorCode.TYPE, problem)

        for name, needed in self._requires:
            if name in out:
                for other in needed:
                    if item.get(other) is None:
                        errors = _add(errors, sku, index, name, ErrorCode.RELATION, f"needs {other}")

        if errors is not None:
            return self._hinted(errors, item)
        return self._finish(out, extra, sku, index)

    def _hinted(self, errors: list[ItemError], item: Mapping[object, object]) -> list[ItemError]:
        """The errors with how to fix them, where that can be told (the error path only)."""
        out = []
        for error in errors:
            hint = self._hint(error, item)
            if hint is not None:
                error = ItemError(
                    error.index, error.sku, error.field, error.code, error.message, error.location, hint
                )
            out.append(error)
        return out

    def _hint(self, error: ItemError, item: Mapping[object, object]) -> str | None:
        path = error.field
        if error.code is ErrorCode.ENUM:
            rule = self._rules.get(path)
            if rule is None or not rule.choices:
                return None
            what = "ISO 4217 currency codes" if path == "currency" else "allowed values"
            return enum_hint(_value_at(item, path), rule.choices, what=what)
        if error.code is ErrorCode.UNKNOWN_FIELD:
            parent, _, name = path.rpartition(".")
            if not parent:
                elsewhere = [c.version for c in CONTRACTS.values() if path in c.field_names]
                if elsewhere:
                    return f"{path!r} is a field of contract version {elsewhere[-1]}: send X-Feed-Version: {elsewhere[-1]}"
            owner = self._rules.get(parent) if parent else None
            known = [m.name for m in owner.fields] if owner is not None else list(self._known)
            return field_hint(name or path, known)
        if error.code is ErrorCode.MISSING and "." not in path:
            for key in item:
                if isinstance(key, str) and key not in self._known and closest(key, [path]) is not None:
                    return f"the item has {key!r}: did you mean {path!r}?"
        return None

    def _finish(
        self,
        out: dict[str, object],
        extra: dict[str, object] | None,
        sku: str | None,
        index: int,
    ) -> ProductRow | list[ItemError]:
        # Cross-field rules, which JSON Schema cannot express.
        errors: list[ItemError] | None = None
        currency: str = out["currency"]  # type: ignore[assignment]
        step = quantum(currency)
        price: Decimal = out["price"]  # type: ignore[assignment]
        try:
            exact_price = price.quantize(step)
        except InvalidOperation:  # pragma: no cover - range check bounds the digits
            exact_price = price
        if exact_price != price:
            errors = _add(
                errors,
                sku,
                index,
                "price",
                ErrorCode.PRECISION,
                f"{currency} amounts have at most {_decimals(step)} decimals",
            )

        sale_text = starts = ends = None
        if self._has_sale:
            sale = out.get("sale_price")
            if sale is not None:
                assert isinstance(sale, Decimal)
                exact_sale = sale.quantize(step)
                if exact_sale != sale:
                    errors = _add(
                        errors,
                        sku,
                        index,
                        "sale_price",
                        ErrorCode.PRECISION,
                        f"{currency} amounts have at most {_decimals(step)} decimals",
                    )
                elif exact_sale > exact_price:
                    errors = _add(
                        errors,
                        sku,
                        index,
                        "sale_price",
                        ErrorCode.RELATION,
                        "must not be above price",
                    )
                sale_text = str(exact_sale)
            starts = out.get("sale_starts_at")
            ends = out.get("sale_ends_at")
            if (
                isinstance(starts, str)
                and isinstance(ends, str)
                and datetime.fromisoformat(starts) >= datetime.fromisoformat(ends)
            ):
                errors = _add(
                    errors,
                    sku,
                    index,
                    "sale_ends_at",
                    ErrorCode.RELATION,
                    "must be after sale_starts_at",
                )
        if errors is not None:
            return errors

        width = height = depth = unit = None
        dims = out.get("dimensions")
        if dims is not None:
            assert isinstance(dims, dict)
            width, height, depth, unit = (
                str(dims["width"]),
                str(dims["height"]),
                str(dims["depth"]),
                dims["unit"],
            )

        return (
            self._partner_id,
            out["sku"],
            out["name"],
            str(exact_price),
            currency,
            out["quantity"],
            out.get("brand"),
            out.get("manufacturer"),
            out.get("gtin"),
            out.get("description"),
            out.get("image_url"),
            width,
            height,
            depth,
            unit,
            sale_text,
            starts,
            ends,
            None if not extra else encode_extra(extra),  # type: ignore[arg-type]
        )  # type: ignore[return-value]


def _kept_value_problem(
    value: object, limits: FeedLimits, index: int, path: str, depth: int, field: str
) -> str | UnreadableValue | None:
    """Why an unknown field's value cannot be kept verbatim in `extra`, or None when it can.

    The feed caps apply to kept values in full and raise `MalformedFeedError`
    (feed level, like the parsers). A value with no JSON form (NaN, a set, a
    key that is not text) can only come from an embedder's own dict: that is
    a `type` problem of this item, returned; a value a format could not read
    (a repeated member name in JSON) is returned with its own code.
    """
    if depth > limits.max_depth:
        raise MalformedFeedError(
            ErrorCode.TOO_DEEP,
            f"item {index}: {path} is nested deeper than {limits.max_depth} levels",
        )
    if value is None or value is True or value is False:
        return None
    if isinstance(value, UnreadableValue):  # a repeated member name, deep inside (JSON)
        return UnreadableValue(f"{value.message}{_at(path, field)}", value.code)
    if isinstance(value, str):
        if len(value) > limits.max_field_chars:
            raise MalformedFeedError(
                ErrorCode.FIELD_TOO_LARGE,
                f"item {index}: {path} is longer than {limits.max_field_chars} characters",
            )
        return None
    if isinstance(value, int):
        # bit_length, not str(): str() of an int past 4300 digits raises.
        if value.bit_length() * 0.302 > limits.max_number_chars:
            raise _number_too_long(index, path, limits)
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return f"{value} has no JSON form{_at(path, field)}"
        if len(str(value)) > limits.max_number_chars:
            raise _number_too_long(index, path, limits)
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} has no JSON form{_at(path, field)}"
    if isinstance(value, dict):
        for key, member in value.items():
            if not isinstance(key, str):
                return f"member names must be text{_at(path, field)}"
            if len(key) > limits.max_field_chars:
                raise MalformedFeedError(
                    ErrorCode.FIELD_TOO_LARGE,
                    f"item {index}: a member name in {path} is longer than {limits.max_field_chars} characters",
                )
            problem = _kept_value_problem(member, limits, index, f"{path}.{key}", depth + 1, field)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for position, member in enumerate(value):
            problem = _kept_value_problem(member, limits, index, f"{path}[{position}]", depth + 1, field)
            if problem is not None:
                return problem
        return None
    return f"a {type(value).__name__} has no JSON form{_at(path, field)}"


def _at(path: str, field: str) -> str:
    return "" if path == field else f" (at {path})"


def _number_too_long(index: int, path: str, limits: FeedLimits) -> MalformedFeedError:
    return MalformedFeedError(
        ErrorCode.NUMBER_TOO_LONG,
        f"item {index}: {path} has more than {limits.max_number_chars} characters",
    )


def _decimals(step: Decimal) -> int:
    return -int(step.as_tuple().exponent)


def _error_sku(sku: object, lenient: bool, textual: bool) -> str | None:
    """The SKU an item's errors name: as the item would have stored it, where it can tell.

    The pipeline also uses it to find a valid item that repeats an invalid one's SKU.
    """
    if sku.__class__ is str:
        return sku.strip() if lenient else sku
    if lenient and not textual and sku.__class__ is int:
        return str(Decimal(sku))
    return None


def _value_at(item: Mapping[object, object], path: str) -> object:
    """The raw value at a dotted path of an item, or None."""
    value: object = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _add(
    errors: list[ItemError] | None,
    sku: str | None,
    index: int,
    field: str,
    code: ErrorCode,
    message: str,
) -> list[ItemError]:
    error = ItemError(index, sku, field, code, f"{field}: {message}")
    if errors is None:
        return [error]
    errors.append(error)
    return errors


def _rebuild_validator(
    contract: FeedContract, mode: Mode, textual: bool, partner_id: str, limits: FeedLimits, fast: bool
) -> ItemValidator:
    return ItemValidator(contract, mode, textual=textual, partner_id=partner_id, limits=limits, fast=fast)
