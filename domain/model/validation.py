"""The validator: one raw feed item in, a product row or every violation out.

A pure function of the item (ADR 0005): it never raises for bad input and
collects every problem of an item instead of stopping at the first. The checks
are compiled once per (contract, mode, source kind) from the field rules in
rules.py, the same rules the published JSON Schema is generated from: the
compiled checks are in field_checks.py, the hints for an invalid item in
item_hints.py, the rules for unknown fields a lenient feed keeps in kept_values.py.

This is the per-item hot path of every ingest; the budget is a few
microseconds per item, which is why checks are closures over precomputed
constants, a valid item takes one call per field and no other layer, and the
output is a storage row, not a `Product` (see product.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from ._fast_path import build_fast_path
from .checksums import gtin_check_digit_ok
from .currencies import quantum
from .errors import MalformedFeedError
from .feed_source import UnreadableValue
from .field_checks import EXTRA, Rejected, compile_rule, type_name
from .item_hints import ItemHints
from .kept_values import kept_value_problem, refuse_long_integers
from .policy import FeedLimits, Mode
from .product import ProductRow, encode_extra
from .report import ErrorCode, ItemError
from .rules import FeedContract, Kind

__all__ = ["ItemValidator", "gtin_check_digit_ok"]

_Fields = dict[str, object]
_Result = ProductRow | list[ItemError]

_NOT_AN_OBJECT: Final = "an item must be an object, got {}"
_moment: Final = datetime.fromisoformat


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
            (rule.name, rule.required, compile_rule(rule, mode, textual, self._limits))
            for rule in contract.fields
        )
        self._known = contract.field_names
        rules = {rule.name: rule for rule in contract.fields} | {
            f"{rule.name}.{member.name}": member for rule in contract.fields for member in rule.fields
        }
        self._hints = ItemHints(rules, self._known)
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

    def _not_an_object(self, raw: object, index: int) -> list[ItemError]:
        """The error of an item that is not an object; a long integer in it (a line that is one
        bare number) ends the feed as it would with either JSON decoder (`refuse_long_integers`)."""
        if not self._textual:
            refuse_long_integers(raw, self._limits, index)
        return [ItemError(index, None, "", ErrorCode.TYPE, _NOT_AN_OBJECT.format(type_name(raw)))]

    def sku_of(self, raw: object, index: int) -> str | list[ItemError]:
        """The valid SKU of an item that only needs one (a delete, a patch), or its errors."""
        if not isinstance(raw, dict):
            return self._not_an_object(raw, index)
        value = raw.get("sku")
        sku = _error_sku(value, self._lenient, self._textual)
        if value is None or (self._lenient and value == ""):
            return [ItemError(index, sku, "sku", ErrorCode.MISSING, "is required")]
        if value.__class__ is UnreadableValue:
            return [ItemError(index, sku, "sku", value.code, value.message)]
        try:
            checked = self._sku_check(value)
        except Rejected as rejected:
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
            return self._not_an_object(raw, index)
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
            except Rejected as rejected:
                for code, message, field in rejected.problems:
                    errors = _add(errors, sku, index, field or name, code, message)
            except MalformedFeedError as error:  # a feed cap (see field_checks._refuse_long_number)
                raise MalformedFeedError(
                    error.error.code, f"item {index}: {name} {error.error.message}"
                ) from None

        extra: dict[str, object] | None = None
        if not item.keys() <= self._known:
            extra, errors = self._unknown(item, sku, index, errors)
        for name in self._objects:
            members = out.get(name)
            if isinstance(members, dict) and EXTRA in members:
                extra = {**(extra or {}), **members.pop(EXTRA)}
        if extra:
            errors = self._kept(extra, sku, index, errors)

        for name, needed in self._requires:
            if name in out:
                for other in needed:
                    if item.get(other) is None:
                        errors = _add(errors, sku, index, name, ErrorCode.RELATION, f"needs {other}")

        if errors is not None:
            if not self._textual:
                refuse_long_integers(item, self._limits, index)
            return self._hints.hinted(errors, item)
        return self._finish(out, extra, sku, index)

    def _unknown(
        self, item: dict[object, object], sku: str | None, index: int, errors: list[ItemError] | None
    ) -> tuple[dict[str, object] | None, list[ItemError] | None]:
        """The item's fields outside the contract: kept verbatim (lenient; the first of the
        pair), or each an error (strict). Only an item with such fields gets here."""
        unknown = sorted(item.keys() - self._known, key=str)
        if not self._lenient:
            for key in unknown:
                value = item[key]
                if isinstance(value, UnreadableValue):  # a repeated member name (JSON)
                    errors = _add(errors, sku, index, str(key), value.code, value.message)
                else:
                    message = "is not part of this feed version's contract"
                    errors = _add(errors, sku, index, str(key), ErrorCode.UNKNOWN_FIELD, message)
            return None, errors
        extra: dict[str, object] = {}
        for key in unknown:
            value = item[key]
            if value is None:
                continue
            if isinstance(value, UnreadableValue):  # a repeated member name (JSON)
                errors = _add(errors, sku, index, str(key), value.code, value.message)
            elif key.__class__ is not str:
                errors = _add(errors, sku, index, str(key), ErrorCode.TYPE, "field names are text")
            else:
                extra[str(key)] = value
        return extra, errors

    def _kept(
        self, extra: Mapping[str, object], sku: str | None, index: int, errors: list[ItemError] | None
    ) -> list[ItemError] | None:
        """`errors` with a problem of each kept value that cannot be kept (kept_values.py)."""
        for key, value in extra.items():
            # A member kept from an object ("dimensions.x") sits one level deeper.
            depth = 2 if key.partition(".")[0] in self._objects else 1
            problem = kept_value_problem(value, self._limits, index, key, depth, key)
            if isinstance(problem, UnreadableValue):
                errors = _add(errors, sku, index, key, problem.code, problem.message)
            elif problem is not None:
                errors = _add(errors, sku, index, key, ErrorCode.TYPE, problem)
        return errors

    def _finish(self, out: _Fields, extra: _Fields | None, sku: str | None, index: int) -> _Result:
        # Cross-field rules, which JSON Schema cannot express; then the storage row.
        errors: list[ItemError] | None = None
        currency: str = out["currency"]  # type: ignore[assignment]
        step = quantum(currency)
        price: Decimal = out["price"]  # type: ignore[assignment]
        try:
            exact_price = price.quantize(step)
        except InvalidOperation:  # pragma: no cover - range check bounds the digits
            exact_price = price
        if exact_price != price:
            errors = _add(errors, sku, index, "price", ErrorCode.PRECISION, _precision(currency))
        sale_text = starts = ends = None
        if self._has_sale:
            sale = out.get("sale_price")
            if sale is not None:
                assert isinstance(sale, Decimal)
                exact_sale = sale.quantize(step)
                if exact_sale != sale:
                    errors = _add(errors, sku, index, "sale_price", ErrorCode.PRECISION, _precision(currency))
                elif exact_sale > exact_price:
                    message = "must not be above price"
                    errors = _add(errors, sku, index, "sale_price", ErrorCode.RELATION, message)
                sale_text = str(exact_sale)
            starts = out.get("sale_starts_at")
            ends = out.get("sale_ends_at")
            if isinstance(starts, str) and isinstance(ends, str) and _moment(starts) >= _moment(ends):
                message = "must be after sale_starts_at"
                errors = _add(errors, sku, index, "sale_ends_at", ErrorCode.RELATION, message)
        if errors is not None:
            return errors
        width = height = depth = unit = None
        dims = out.get("dimensions")
        if dims is not None:
            assert isinstance(dims, dict)
            width, height, depth = str(dims["width"]), str(dims["height"]), str(dims["depth"])
            unit = dims["unit"]
        kept = None if not extra else encode_extra(extra)  # type: ignore[arg-type]
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
            kept,
        )  # type: ignore[return-value]


def _precision(currency: str) -> str:
    return f"{currency} amounts have at most {-int(quantum(currency).as_tuple().exponent)} decimals"


def _error_sku(sku: object, lenient: bool, textual: bool) -> str | None:
    """The SKU an item's errors name: as the item would have stored it, where it can tell.

    The pipeline also uses it to find a valid item that repeats an invalid one's SKU.
    """
    if sku.__class__ is str:
        return sku.strip() if lenient else sku
    if lenient and not textual and sku.__class__ is int:
        return str(Decimal(sku))
    return None


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
