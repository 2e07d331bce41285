"""Unknown fields a lenient feed keeps verbatim (ADR 0005): whether a value can be kept.

Invariant: a kept value has a JSON form and is within every feed cap (`FeedLimits`: depth,
text and number length), in full, however deep; a value past a cap is a feed-level error
(`MalformedFeedError`, as the parsers raise), a value with no JSON form is a problem of its
item. Only items with unknown fields in lenient mode get here.
"""

from __future__ import annotations

import math
from decimal import Decimal

from .errors import MalformedFeedError
from .feed_source import UnreadableValue
from .policy import FeedLimits
from .report import ErrorCode

__all__ = ["kept_value_problem", "refuse_long_integers"]


def kept_value_problem(
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
        if limits.integer_too_long(value):
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
            problem = kept_value_problem(member, limits, index, f"{path}.{key}", depth + 1, field)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for position, member in enumerate(value):
            problem = kept_value_problem(member, limits, index, f"{path}[{position}]", depth + 1, field)
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


def refuse_long_integers(value: object, limits: FeedLimits, index: int, path: str = "") -> None:
    """Raise the feed error an integer longer than `max_number_chars` anywhere in `value` is.

    The standard library's JSON decoder refuses such an integer while parsing; msgspec hands
    it over. A valid item's integers passed their fields' range checks (which refuse a long
    one) or `kept_value_problem`, so only an invalid item's are walked here (an item that is
    not an object, a bare number, is invalid too): whichever decoder
    read it, the feed ends the same way. Numbers with a fraction or an exponent are capped by
    both decoders' hook already.
    """
    if value.__class__ is int:
        if limits.integer_too_long(value):
            raise _number_too_long(index, path or "a value", limits)
    elif isinstance(value, dict):
        for key, member in value.items():
            refuse_long_integers(member, limits, index, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for position, member in enumerate(value):
            refuse_long_integers(member, limits, index, f"{path}[{position}]")
