"""Field checks: each field rule of a contract (rules.py) compiled once into a closure over
precomputed constants (ADR 0005).

Invariant: a check is a pure function of one value: it returns the value normalized (as it
is stored) or raises `Rejected` with every problem of that value; a value past a feed cap
raises `MalformedFeedError` instead (a feed-level error, as the parsers raise for the same
excess). The checks are the per-item hot path of the reference validator (validation.py),
so each is one closure call per field, with no further layers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, NoReturn

from .checksums import gtin_check_digit_ok
from .errors import MalformedFeedError
from .feed_source import UnreadableValue
from .policy import FeedLimits, Mode
from .report import ErrorCode
from .rules import RFC3339_DATETIME, FieldRule, Kind

__all__ = ["EXTRA", "Check", "Problem", "Rejected", "compile_rule", "type_name"]

Check = Callable[[object], object]
"""A compiled field check: returns the normalized value or raises `Rejected`."""

_INTEGER_TEXT: Final = re.compile(r"-?[0-9]+")
_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_RFC3339: Final = re.compile(RFC3339_DATETIME)
# Lenient mode also takes the space separator RFC 3339 mentions "for readability".
_RFC3339_LENIENT: Final = re.compile(RFC3339_DATETIME.replace("[Tt]", "[Tt ]"))

Problem = tuple[ErrorCode, str, str | None]
"""One violation found by a compiled check: code, message, field path (None: the field checked)."""


class Rejected(Exception):
    """Raised by a compiled check; turned into item errors right away."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


def _reject(code: ErrorCode, message: str, field: str | None = None) -> NoReturn:
    raise Rejected([(code, message, field)])


def type_name(value: object) -> str:
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
                _reject(ErrorCode.TYPE, f"expected a string, got {type_name(value)}")
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
    _reject(ErrorCode.TYPE, f"expected a finite number, got {type_name(value)}")


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
        too_long = limits.integer_too_long(value)
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
            _reject(ErrorCode.TYPE, f"expected an RFC 3339 date-time string, got {type_name(value)}")
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
    members = tuple((m.name, m.required, compile_rule(m, mode, textual, limits)) for m in rule.fields)
    known = frozenset(m.name for m in rule.fields)
    lenient = mode is Mode.LENIENT
    prefix = rule.name

    def check(value: object) -> object:
        if not isinstance(value, dict):
            _reject(ErrorCode.TYPE, f"expected an object, got {type_name(value)}")
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
            except Rejected as rejected:
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
                out[EXTRA] = {
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
            raise Rejected(problems)
        return out

    return check


EXTRA: Final = "__extra__"
"""Key under which an object check hands its unknown members to the item (lenient mode)."""

_COMPILERS: Final[dict[Kind, Callable[[FieldRule, Mode, bool, FeedLimits], Check]]] = {
    Kind.TEXT: _text_check,
    Kind.DECIMAL: _decimal_check,
    Kind.INTEGER: _integer_check,
    Kind.DATETIME: _datetime_check,
    Kind.OBJECT: _object_check,
}


def compile_rule(rule: FieldRule, mode: Mode, textual: bool, limits: FeedLimits) -> Check:
    return _COMPILERS[rule.kind](rule, mode, textual, limits)
