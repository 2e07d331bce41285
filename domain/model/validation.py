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

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, NoReturn

from ._fast_path import build_fast_path
from .checksums import gtin_check_digit_ok
from .currencies import quantum
from .errors import MalformedFeedError
from .policy import FeedLimits, Mode
from .product import ProductRow, content_hash, encode_extra
from .report import ErrorCode, ItemError
from .rules import FeedContract, FieldRule, Kind

__all__ = ["ItemValidator", "gtin_check_digit_ok"]

Check = Callable[[object], object]
"""A compiled field check: returns the normalized value or raises `_Rejected`."""

_INTEGER_TEXT: Final = re.compile(r"-?[0-9]+")
_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class _Rejected(Exception):
    """Raised by a compiled check; turned into an `ItemError` right away."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.field = field


def _reject(code: ErrorCode, message: str, field: str | None = None) -> NoReturn:
    raise _Rejected(code, message, field)


def _type_name(value: object) -> str:
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


def _text_check(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    lenient = mode is Mode.LENIENT
    min_len = rule.min_length or 0
    max_len = rule.max_length
    pattern = re.compile(rule.pattern).fullmatch if rule.pattern else None
    forbidden = re.compile(f"[{rule.forbidden_chars}]").search if rule.forbidden_chars else None
    choices = frozenset(rule.choices) if rule.choices else None
    checksum = rule.gtin_checksum
    hint = rule.pattern_hint

    def check(value: object) -> object:
        if value.__class__ is not str:
            # Lenient JSON: a number where text is expected (a SKU of 1001) is safe.
            if lenient and not textual and value.__class__ in (int, Decimal):
                value = str(value)
            else:
                _reject(ErrorCode.TYPE, f"expected a string, got {_type_name(value)}")
        assert isinstance(value, str)
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


def _number_from(value: object, lenient: bool, textual: bool, pattern: re.Pattern[str]) -> Decimal:
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
        _reject(ErrorCode.FORMAT, f"{text[:40]!r} is not a decimal number")
    elif type(value) is float and lenient:  # a float from an embedder's dict, never from our parsers
        number = Decimal(repr(value))
        if number.is_finite():
            return number
    _reject(ErrorCode.TYPE, f"expected a finite number, got {_type_name(value)}")


def _range_check(rule: FieldRule, number: Decimal) -> None:
    low, high = rule.minimum, rule.maximum
    if low is not None and (number <= low if rule.exclusive_minimum else number < low):
        _reject(
            ErrorCode.RANGE,
            f"must be {'greater than' if rule.exclusive_minimum else 'at least'} {low}",
        )
    if high is not None and number > high:
        _reject(ErrorCode.RANGE, f"must be at most {high}")


def _decimal_check(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    lenient = mode is Mode.LENIENT
    low = rule.minimum if rule.minimum is not None else Decimal("-Infinity")
    high = rule.maximum if rule.maximum is not None else Decimal("Infinity")
    exclusive = rule.exclusive_minimum

    def check(value: object) -> object:
        number = _number_from(value, lenient, textual, _DECIMAL_TEXT)
        if (number <= low if exclusive else number < low) or number > high:
            _range_check(rule, number)
        return number

    return check


def _integer_check(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    lenient = mode is Mode.LENIENT
    low = rule.minimum if rule.minimum is not None else Decimal("-Infinity")
    high = rule.maximum if rule.maximum is not None else Decimal("Infinity")

    def check(value: object) -> object:
        if value.__class__ is int:
            number: int = value
        else:
            # JSON Schema counts 5.0 as an integer, so strict mode does too.
            pattern = _DECIMAL_TEXT if lenient else _INTEGER_TEXT
            as_decimal = _number_from(value, lenient, textual, pattern)
            # Range first: int() of Decimal("1E+100000000") would build a huge number.
            if not low <= as_decimal <= high:
                _range_check(rule, as_decimal)
            if as_decimal != as_decimal.to_integral_value():
                _reject(ErrorCode.TYPE, f"expected an integer, got {as_decimal}")
            return int(as_decimal)
        if not low <= number <= high:
            _range_check(rule, Decimal(number))
        return number

    return check


def _datetime_check(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    lenient = mode is Mode.LENIENT

    def check(value: object) -> object:
        if value.__class__ is not str:
            _reject(ErrorCode.TYPE, f"expected an RFC 3339 date-time string, got {_type_name(value)}")
        text: str = value.strip() if lenient else value
        if not _RFC3339.fullmatch(text):
            _reject(
                ErrorCode.FORMAT,
                "must be an RFC 3339 date-time with offset, e.g. 2026-11-27T08:00:00Z",
            )
        try:
            moment = datetime.fromisoformat(text.upper().replace(" ", "T"))
        except ValueError:
            _reject(ErrorCode.FORMAT, f"{text!r} is not a valid date-time")
        return moment.astimezone(UTC).isoformat()

    return check


def _object_check(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    members = tuple((m.name, m.required, _compile(m, mode, textual)) for m in rule.fields)
    known = frozenset(m.name for m in rule.fields)
    lenient = mode is Mode.LENIENT
    prefix = rule.name

    def check(value: object) -> object:
        if not isinstance(value, dict):
            _reject(ErrorCode.TYPE, f"expected an object, got {_type_name(value)}")
        # One problem per object is reported: the first member that fails.
        out: dict[str, object] = {}
        for name, required, member_check in members:
            member = value.get(name)
            if member is None:
                if required:
                    _reject(ErrorCode.MISSING, "is required", f"{prefix}.{name}")
                continue
            try:
                out[name] = member_check(member)
            except _Rejected as rejected:
                _reject(rejected.code, rejected.message, rejected.field or f"{prefix}.{name}")
        if not value.keys() <= known:
            unknown = sorted(value.keys() - known)
            if not lenient:
                _reject(ErrorCode.UNKNOWN_FIELD, "is not part of the contract", f"{prefix}.{unknown[0]}")
            out["__extra__"] = {f"{prefix}.{key}": value[key] for key in unknown}
        return out

    return check


_COMPILERS: Final[dict[Kind, Callable[[FieldRule, Mode, bool], Check]]] = {
    Kind.TEXT: _text_check,
    Kind.DECIMAL: _decimal_check,
    Kind.INTEGER: _integer_check,
    Kind.DATETIME: _datetime_check,
    Kind.OBJECT: _object_check,
}


def _compile(rule: FieldRule, mode: Mode, textual: bool) -> Check:
    return _COMPILERS[rule.kind](rule, mode, textual)


# --- the validator ------------------------------------------------------------


class ItemValidator:
    """Validates and normalizes the raw items of one partner's feed.

    `textual` says the feed format carries every value as text (CSV, XML): then
    numbers written as text are the format's own notation, accepted in strict
    mode too.
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
        self.contract = contract
        self._limits = limits or FeedLimits()
        self.mode = mode
        self._partner_id = partner_id
        self._lenient = mode is Mode.LENIENT
        self._plan = tuple(
            (rule.name, rule.required, _compile(rule, mode, textual)) for rule in contract.fields
        )
        self._known = contract.field_names
        self._requires = tuple((rule.name, rule.requires) for rule in contract.fields if rule.requires)
        self._has_sale = contract.field("sale_price") is not None
        self.validate: Callable[[object, int], ProductRow | list[ItemError]] = self.validate_exactly
        if fast:
            self.validate = build_fast_path(
                contract, mode, textual=textual, partner_id=partner_id, slow=self.validate_exactly
            )

    def validate_exactly(self, raw: object, index: int) -> ProductRow | list[ItemError]:
        """The product row of a valid item, or every item error of an invalid one.

        `validate` is the same function behind a generated fast path for valid
        items (see _fast_path.py); this is the reference it defers to.
        """
        if raw.__class__ is not dict:
            return [
                ItemError(
                    index,
                    None,
                    "",
                    ErrorCode.TYPE,
                    f"an item must be an object, got {_type_name(raw)}",
                )
            ]
        item: dict[str, object] = raw
        out: dict[str, object] = {}
        errors: list[ItemError] | None = None
        lenient = self._lenient
        for name, required, check in self._plan:
            value = item.get(name)
            if value is None or (lenient and value == ""):
                if required:
                    errors = _add(errors, item, index, name, ErrorCode.MISSING, "is required")
                continue
            try:
                out[name] = check(value)
            except _Rejected as rejected:
                errors = _add(errors, item, index, rejected.field or name, rejected.code, rejected.message)

        extra: dict[str, object] | None = None
        if not item.keys() <= self._known:
            unknown = sorted(k for k in item.keys() - self._known)
            if self._lenient:
                extra = {key: item[key] for key in unknown if item[key] is not None}
                for key, value in extra.items():
                    _check_kept_value(value, self._limits, index, key, 1)
            else:
                for key in unknown:
                    errors = _add(
                        errors,
                        item,
                        index,
                        key,
                        ErrorCode.UNKNOWN_FIELD,
                        "is not part of this feed version's contract",
                    )

        for name, needed in self._requires:
            if name in out:
                for other in needed:
                    if item.get(other) is None:
                        errors = _add(errors, item, index, name, ErrorCode.RELATION, f"needs {other}")

        if errors is not None:
            return errors
        return self._finish(out, extra, item, index)

    def _finish(
        self,
        out: dict[str, object],
        extra: dict[str, object] | None,
        item: dict[str, object],
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
                item,
                index,
                "price",
                ErrorCode.PRECISION,
                f"{currency} amounts have at most {_decimals(step)} decimals",
            )

        sale_text = starts = ends = None
        dims = None
        if self._has_sale:
            sale = out.get("sale_price")
            if sale is not None:
                assert isinstance(sale, Decimal)
                exact_sale = sale.quantize(step)
                if exact_sale != sale:
                    errors = _add(
                        errors,
                        item,
                        index,
                        "sale_price",
                        ErrorCode.PRECISION,
                        f"{currency} amounts have at most {_decimals(step)} decimals",
                    )
                elif exact_sale > exact_price:
                    errors = _add(
                        errors,
                        item,
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
                    item,
                    index,
                    "sale_ends_at",
                    ErrorCode.RELATION,
                    "must be after sale_starts_at",
                )
            dims = out.get("dimensions")
        if errors is not None:
            return errors

        width = height = depth = unit = None
        if dims is not None:
            assert isinstance(dims, dict)
            width, height, depth, unit = (
                str(dims["width"]),
                str(dims["height"]),
                str(dims["depth"]),
                dims["unit"],
            )
            nested_extra = dims.get("__extra__")
            if nested_extra:
                extra = {**(extra or {}), **nested_extra}

        values = (
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
        )
        return (*values, content_hash(values))  # type: ignore[return-value]


def _check_kept_value(value: object, limits: FeedLimits, index: int, path: str, depth: int) -> None:
    """Unknown fields are stored verbatim, so the feed caps apply to them in full."""
    if depth > limits.max_depth:
        raise MalformedFeedError(
            ErrorCode.TOO_DEEP,
            f"item {index}: {path} is nested deeper than {limits.max_depth} levels",
        )
    if isinstance(value, dict):
        for key, member in value.items():
            _check_kept_value(member, limits, index, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for position, member in enumerate(value):
            _check_kept_value(member, limits, index, f"{path}[{position}]", depth + 1)
    elif isinstance(value, str):
        if len(value) > limits.max_field_chars:
            raise MalformedFeedError(
                ErrorCode.FIELD_TOO_LARGE,
                f"item {index}: {path} is longer than {limits.max_field_chars} characters",
            )
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        # bit_length, not str(): str() of an int past 4300 digits raises.
        too_long = (
            value.bit_length() * 0.302 > limits.max_number_chars
            if isinstance(value, int)
            else len(str(value)) > limits.max_number_chars
        )
        if too_long:
            raise MalformedFeedError(
                ErrorCode.NUMBER_TOO_LONG,
                f"item {index}: {path} has more than {limits.max_number_chars} characters",
            )


def _decimals(step: Decimal) -> int:
    return -int(step.as_tuple().exponent)


def _add(
    errors: list[ItemError] | None,
    item: Mapping[str, object],
    index: int,
    field: str,
    code: ErrorCode,
    message: str,
) -> list[ItemError]:
    sku = item.get("sku")
    error = ItemError(index, sku if isinstance(sku, str) else None, field, code, f"{field}: {message}")
    if errors is None:
        return [error]
    errors.append(error)
    return errors
