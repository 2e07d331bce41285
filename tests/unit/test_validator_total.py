"""Property (b): the validator is total. Whatever a parser (or an embedder's own dict)
hands it, it returns a product row or a non-empty list of item errors, never an
exception, in both modes, for textual and JSON formats alike.

One exception is allowed, on purpose (ADR 0005): a value over a feed cap (depth,
text or number length: a kept unknown field in lenient mode, or a contract field of
a JSON feed, whose decoder does not measure them) raises MalformedFeedError, the same
feed-level error a parser raises for the same excess.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from strategies import PARTNER, broken_items, json_values, junk_items

from partner_ingest.domain.model import (
    PRODUCT_COLUMNS,
    ErrorCode,
    FeedLimits,
    ItemError,
    ItemValidator,
    MalformedFeedError,
    Mode,
    contract_for,
)

SETUPS = [
    (version, mode, textual)
    for version in (1, 2)
    for mode in (Mode.STRICT, Mode.LENIENT)
    for textual in (False, True)
]
CAPS = {ErrorCode.TOO_DEEP, ErrorCode.FIELD_TOO_LARGE, ErrorCode.NUMBER_TOO_LONG}


def _outcome(validate: Any, raw: object) -> object:
    try:
        return validate(raw, 7)
    except MalformedFeedError as error:
        return error


def assert_total(validator: ItemValidator, raw: object) -> None:
    for validate in (validator.validate, validator.validate_exactly):
        result = _outcome(validate, raw)
        if isinstance(result, MalformedFeedError):
            # The one allowed exception: a value over a feed cap.
            assert result.error.code in CAPS, result.error
            continue
        if isinstance(result, tuple):
            assert len(result) == len(PRODUCT_COLUMNS)
            assert all(v is None or type(v) in (str, int) for v in result), result
            assert result[0] == PARTNER
        else:
            assert isinstance(result, list), result
            assert result, "an invalid item must have at least one error"
            for error in result:
                assert isinstance(error, ItemError)
                assert error.index == 7
                assert isinstance(error.code, ErrorCode)
                assert error.message.startswith(f"{error.field}: ") or error.field == ""
                assert error.sku is None or isinstance(error.sku, str)


@functools.cache
def _validator(setup: tuple[int, Mode, bool]) -> ItemValidator:
    version, mode, textual = setup
    return ItemValidator(contract_for(version), mode, textual=textual, partner_id=PARTNER)


def assert_total_everywhere(raw: Any) -> None:
    # Generating an item costs far more than validating it: each one meets every setup.
    for setup in SETUPS:
        assert_total(_validator(setup), raw)


@given(raw=json_values())
@example(raw=float("nan"))
@example(raw={"sku": 10**5000, "name": "x", "price": 1, "currency": "EUR", "quantity": 1})
@example(raw={"sku": "A", "name": "\ud800", "price": float("inf"), "currency": "EUR", "quantity": True})
def test_any_json_value_gives_a_row_or_errors(raw: Any) -> None:
    assert_total_everywhere(raw)


@given(raw=junk_items())
@example(raw={1: "x", "sku": "A", None: 2})
@example(raw={"sku": "A", "name": "n", "price": 1, "currency": "EUR", "quantity": 1, "x": {1: 2, "a": 3}})
@example(raw={"sku": "A", "name": "n", "price": 1, "currency": "EUR", "quantity": 1, "x": float("nan")})
@example(raw={"sku": "A", "name": "n", "price": 1, "currency": "EUR", "quantity": 1, "x": Decimal("sNaN")})
@example(raw={"sku": "A", "name": "n", "price": 1, "currency": "EUR", "quantity": 1, "x": {1, 2}})
@example(
    raw={
        "sku": "A",
        "name": "n",
        "price": Decimal(1),
        "currency": "EUR",
        "quantity": 1,
        "sale_price": Decimal(1),
        "sale_starts_at": "9999-12-31T23:59:59-01:00",
        "sale_ends_at": "0001-01-01T00:00:00+01:00",
    }
)
def test_junk_items_give_a_row_or_errors(raw: Any) -> None:
    assert_total_everywhere(raw)


@given(raw=broken_items(1) | broken_items(2))
def test_nearly_valid_items_give_a_row_or_errors(raw: dict[str, Any]) -> None:
    assert_total_everywhere(raw)


def test_lenient_mode_raises_only_for_a_kept_value_over_a_cap() -> None:
    validator = ItemValidator(
        contract_for(2), Mode.LENIENT, textual=False, partner_id=PARTNER, limits=FeedLimits(max_depth=3)
    )
    base = {"sku": "A", "name": "n", "price": 1, "currency": "EUR", "quantity": 1}
    deep: object = 1
    for _ in range(4):
        deep = [deep]
    with pytest.raises(MalformedFeedError) as raised:
        validator.validate({**base, "x": deep}, 0)
    assert raised.value.error.code is ErrorCode.TOO_DEEP
    # Kept from inside an object counts its depth from the item too.
    with pytest.raises(MalformedFeedError):
        validator.validate(
            {**base, "dimensions": {"width": 1, "height": 1, "depth": 1, "unit": "cm", "x": [[1]]}}, 0
        )
    # Strict mode refuses the same field as an item error instead: it keeps nothing.
    strict = ItemValidator(contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER)
    errors = strict.validate({**base, "x": deep}, 0)
    assert isinstance(errors, list)
    assert [e.code for e in errors] == [ErrorCode.UNKNOWN_FIELD]
