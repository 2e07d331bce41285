"""Property (e): the generated fast path and the reference validator agree.

`ItemValidator.validate` is generated straight-line code that accepts the common
valid item and defers everything else to `validate_exactly`. It may be
incomplete, never different: for valid, slightly broken and junk items, in
both modes, from JSON and from textual formats, both give the same result.
"""

from __future__ import annotations

import functools
import inspect
import re
import traceback
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import PARTNER, broken_items, junk_items, raw_items

from partner_ingest.domain.model import FeedLimits, ItemValidator, MalformedFeedError, Mode, contract_for
from partner_ingest.domain.model._fast_path import build_fast_path

SETUPS = [
    (version, mode, textual)
    for version in (1, 2)
    for mode in (Mode.STRICT, Mode.LENIENT)
    for textual in (False, True)
]


@functools.cache
def _validator(setup: tuple[int, Mode, bool]) -> ItemValidator:
    version, mode, textual = setup
    return ItemValidator(contract_for(version), mode, textual=textual, partner_id=PARTNER)


def as_text(value: Any) -> Any:
    """What CSV and XML parsers hand over: every scalar as text, objects kept."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(Decimal(value))  # str() of an int past 4300 digits raises
    return str(value) if isinstance(value, Decimal | float) else value


def assert_agree(raw: Any) -> None:
    for setup in SETUPS:
        validator = _validator(setup)
        item = as_text(raw) if setup[2] else raw
        assert _outcome(validator.validate, item) == _outcome(validator.validate_exactly, item), setup


def _outcome(validate: Any, item: Any) -> Any:
    try:
        return validate(item, 3)
    except MalformedFeedError as error:  # lenient mode, a kept value over a cap: both must raise
        return error.error


@given(raw=raw_items(1) | raw_items(2))
def test_valid_items(raw: dict[str, Any]) -> None:
    assert_agree(raw)


@given(raw=broken_items(1) | broken_items(2))
@example(raw={"sku": " A ", "name": "n", "price": Decimal("1.5"), "currency": "eur", "quantity": 1})
@example(raw={"sku": "A", "name": "n", "price": Decimal("1.50"), "currency": "JPY", "quantity": 1})
@example(raw={"sku": "A", "name": "n", "price": Decimal("-0.00"), "currency": "EUR", "quantity": 1})
@example(
    raw={"sku": "A", "name": "n", "price": 0, "sale_price": Decimal("-0"), "currency": "EUR", "quantity": 1}
)
@example(raw={"sku": "A", "name": "n\x85", "price": 1, "currency": "EUR", "quantity": Decimal("5.0")})
@example(
    raw={
        "sku": "A",
        "name": "n",
        "price": 1,
        "currency": "EUR",
        "quantity": 1,
        "dimensions": {"width": 1, "height": 2, "depth": Decimal("3.0"), "unit": "cm", "x": 1},
    }
)
def test_slightly_broken_items(raw: dict[str, Any]) -> None:
    assert_agree(raw)


@given(raw=junk_items())
def test_junk(raw: Any) -> None:
    assert_agree(raw)


@pytest.mark.parametrize("body", ["4006381", "01234567890", "400638133393", "1001234567890"])
def test_every_check_digit_of_gtins_of_every_length(body: str) -> None:
    # The fast path computes the GS1 check digit inline; the reference calls the function.
    for digit in "0123456789":
        assert_agree({**_VALID, "gtin": body + digit})


# Numbers as CSV and XML write them, canonical or not: int() and Decimal() read all of
# these, and the fast path must take only those the reference's syntax takes.
_ODD_NUMBERS = ["+5", " 5", "5 ", "5_0", "05", "0.5", ".5", "5.", "1E+5", "1e5", "1E-7", "0.0000001"]
_ODD_NUMBERS += ["0.000001", "NaN", "-NaN", "sNaN", "Infinity", "-0", "-0.0", "\u0665", "5.00", "1" * 25, ""]
_NUMBER_FIELDS = ["price", "quantity", "width", "depth"]
_VALID = {"sku": "A-1", "name": "n", "price": "1", "currency": "EUR", "quantity": "1"}


def _with_number(raw: dict[str, Any], field: str, text: str) -> dict[str, Any]:
    item: dict[str, Any] = as_text(raw)
    if field in ("price", "quantity"):
        item[field] = text
    else:
        item["dimensions"] = {"width": "1.5", "height": "2", "depth": "3", "unit": "cm", field: text}
    return item


@pytest.mark.parametrize("field", _NUMBER_FIELDS)
@pytest.mark.parametrize("text", _ODD_NUMBERS)
def test_numbers_written_as_text_in_any_notation(field: str, text: str) -> None:
    assert_agree(_with_number(_VALID, field, text))


@given(
    raw=raw_items(2),
    field=st.sampled_from(_NUMBER_FIELDS),
    text=st.sampled_from(_ODD_NUMBERS) | st.from_regex(r"-?[0-9]{1,24}(\.[0-9]{1,24})?", fullmatch=True),
)
def test_numbers_written_as_text_in_any_item(raw: dict[str, Any], field: str, text: str) -> None:
    assert_agree(_with_number(raw, field, text))


@given(version=st.sampled_from([1, 2]), raw=raw_items(2))
def test_a_valid_item_goes_the_fast_way(version: int, raw: dict[str, Any]) -> None:
    # Without the sale fields (always the reference path) a valid strict item must not
    # need the reference path: if it did, the fast path would be dead code.
    raw = {
        k: v for k, v in raw.items() if k in contract_for(version).field_names and not k.startswith("sale")
    }
    # Text with a character str.isprintable() doubts (line breaks and tabs in a
    # description, C1 controls, U+2028) goes the fast way too when the rule allows it.
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    validator = ItemValidator(
        contract_for(version), Mode.STRICT, textual=False, partner_id=PARTNER, fast=False
    )
    exact = validator.validate_exactly
    fast = build_fast_path(
        contract_for(version), Mode.STRICT, textual=False, partner_id=PARTNER, slow=spy, limits=FeedLimits()
    )
    assert fast(raw, 0) == exact(raw, 0)
    assert calls == [], f"a valid item took the reference path: {raw!r}"


@given(
    raw=raw_items(1) | raw_items(2),
    price=st.sampled_from([Decimal("1.5"), Decimal("1.505"), 7, Decimal("-0")]),
)
def test_an_item_of_its_required_fields_alone_agrees_and_goes_the_fast_way(
    raw: dict[str, Any], price: Decimal | int
) -> None:
    # Such an item takes its own short way through the generated code (no test of an absent
    # optional field); the price's cross-field rule (a JPY price with decimals) still applies.
    required = {k: raw[k] for k in ("sku", "name", "price", "currency", "quantity")}
    for item in (required, {**required, "price": price}):
        assert_agree(item)
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    exact = ItemValidator(contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER).validate_exactly
    fast = build_fast_path(
        contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER, slow=spy, limits=FeedLimits()
    )
    assert fast(required, 0) == exact(required, 0)
    assert calls == [], f"an item of required fields alone took the reference path: {required!r}"


def test_the_generated_source_shows_in_tracebacks_and_getsource() -> None:
    """A traceback through the generated function shows its lines, under a name saying what it is."""

    def failing(item: object, index: int) -> Any:
        raise RuntimeError("the reference validator failed")

    validate = build_fast_path(
        contract_for(1), Mode.STRICT, textual=False, partner_id=PARTNER, slow=failing, limits=FeedLimits()
    )
    with pytest.raises(RuntimeError) as caught:
        validate("not an object", 0)  # the generated code hands anything but a dict to `slow`
    text = "".join(traceback.format_exception(caught.value))
    assert "<partner_ingest fast validator: contract v1, strict, typed items" in text
    assert "if item.__class__ is not dict or not KNOWN(item): return SLOW(item, index)" in text
    source = inspect.getsource(validate)
    assert source.startswith("    def validate(item, index):")
    assert "step = QUANTA[v_currency]" in source


def test_a_multi_line_tabbed_description_and_a_non_ascii_name_go_the_fast_way() -> None:
    raw = {
        "sku": "MUG-1",
        "name": "Tasse « Łódź » 東京",
        "price": Decimal("9.50"),
        "currency": "EUR",
        "quantity": 3,
        "description": "Features:\n- stoneware\r\n- 300 ml\tdishwasher safe",
    }
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    exact = ItemValidator(
        contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER, fast=False
    ).validate_exactly
    fast = build_fast_path(
        contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER, slow=spy, limits=FeedLimits()
    )
    assert fast(raw, 0) == exact(raw, 0)
    assert calls == []
    assert fast({**raw, "description": "bell\x07"}, 0) == exact({**raw, "description": "bell\x07"}, 0)
    assert calls == [0]  # a forbidden control character is the reference path's to report


@pytest.mark.parametrize(
    ("changes", "fast_way"),
    [
        ({}, True),
        ({"currency": "JPY", "price": 1500, "sale_price": 1200}, True),
        ({"sale_starts_at": None, "sale_ends_at": None}, True),
        ({"sale_ends_at": None}, True),
        ({"sale_starts_at": "2026-12-02T23:59:59Z", "sale_ends_at": "2026-11-27T00:00:00Z"}, False),
        ({"sale_ends_at": "2026-11-27T00:00:00Z"}, False),  # ends when it starts
        ({"sale_price": Decimal("10.00")}, False),  # above the price
        ({"sale_price": Decimal("7.125")}, False),  # more decimals than EUR has
        ({"sale_starts_at": "2026-11-27T08:00:00+02:00"}, False),  # another spelling
        ({"sale_starts_at": "2026-11-27t00:00:00z"}, False),
        ({"sale_starts_at": "2026-11-27T00:00:60Z"}, False),  # a leap second
        ({"sale_starts_at": "0000-11-27T00:00:00Z"}, False),
        ({"sale_starts_at": "2026-02-30T00:00:00Z"}, False),  # not on the calendar
        ({"sale_starts_at": 20261127}, False),
        ({"sale_price": None}, False),  # a window without a sale price
    ],
)
@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.LENIENT])
def test_sale_windows_go_the_fast_way_and_answer_what_the_reference_answers(
    changes: dict[str, Any], fast_way: bool, mode: Mode
) -> None:
    raw = {
        "sku": "MUG-1",
        "name": "Mug",
        "price": Decimal("9.50"),
        "currency": "EUR",
        "quantity": 3,
        "sale_price": Decimal("7.60"),
        "sale_starts_at": "2026-11-27T00:00:00Z",
        "sale_ends_at": "2026-12-02T23:59:59Z",
    }
    raw = {k: v for k, v in {**raw, **changes}.items() if v is not None}
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    exact = ItemValidator(
        contract_for(2), mode, textual=False, partner_id=PARTNER, fast=False
    ).validate_exactly
    fast = build_fast_path(
        contract_for(2), mode, textual=False, partner_id=PARTNER, slow=spy, limits=FeedLimits()
    )
    assert fast(raw, 0) == exact(raw, 0)
    assert (calls == []) is fast_way


_URL_CHARS = st.sampled_from([chr(c) for c in range(0x7F)] + ["\x7f", "\x85", "é", "\ud800", "\ufffe", "東"])


@given(
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "https:/", ""]),
    st.text(_URL_CHARS, max_size=12),
    st.text(_URL_CHARS, max_size=12),
)
@example("https://", "img.example.com", "/p/1.jpg")
@example("https://", "user@host", "/p")
@example("https://", "", "/p")
def test_the_cheaper_url_pattern_matches_only_what_the_exact_pattern_matches(
    scheme: str, host: str, rest: str
) -> None:
    # The fast path tries the ASCII pattern first and the exact one after: sound only if every
    # match of the first is a match of the second (the image URL as most feeds write it matches both).
    from partner_ingest.domain.model._fast_path import _ASCII_SUBSETS
    from partner_ingest.domain.model.rules import IMAGE_URL

    assert set(_ASCII_SUBSETS) == {
        IMAGE_URL.pattern
    }  # a changed pattern drops its subset, never keeps a stale one
    url = scheme + host + rest
    for pattern, subset in _ASCII_SUBSETS.items():
        if re.fullmatch(subset, url):
            assert re.fullmatch(pattern, url), url
    if url == "https://img.example.com/p/1.jpg":
        assert all(re.fullmatch(subset, url) for subset in _ASCII_SUBSETS.values())


def test_the_gtin_checks_take_no_regex_and_agree_with_the_reference_on_every_length() -> None:
    for length in range(1, 16):
        for digit in "0123456789":
            body = ("4006381333931" * 2)[: length - 1] + digit
            assert_agree({**_VALID, "gtin": body})
            assert_agree(
                {**_VALID, "gtin": "\u0664" + body[1:]}
            )  # an Arabic-Indic digit: isdecimal, not ASCII
    source = inspect.getsource(_validator((2, Mode.STRICT, False)).validate)
    assert "LENGTHS_gtin" in source
    assert "MATCH_gtin" not in source


_WHOLE_SECONDS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


@given(starts=_WHOLE_SECONDS, ends=_WHOLE_SECONDS)
@example(starts=datetime(999, 1, 1), ends=datetime(1000, 1, 1))
@example(starts=datetime(2026, 11, 27), ends=datetime(2026, 11, 27))
def test_sale_windows_written_with_z(starts: datetime, ends: datetime) -> None:
    """The fast path writes the stored form of `...Z` itself rather than asking isoformat():
    whole seconds in UTC, any year, either order of the window, taken by the fast path
    whenever the window is one."""

    def z(moment: datetime) -> str:
        return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%SZ")

    base = {"sku": "A-1", "name": "n", "price": Decimal("2.00"), "currency": "EUR", "quantity": 1}
    window = {"sale_price": Decimal("1.00"), "sale_starts_at": z(starts), "sale_ends_at": z(ends)}
    calls: list[int] = []
    exact = _validator((2, Mode.STRICT, False)).validate_exactly

    def spy(item: Any, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    fast = build_fast_path(
        contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER, slow=spy, limits=FeedLimits()
    )
    for raw in ({**base, **window}, {**base, "sale_price": Decimal("1.00"), "sale_ends_at": z(ends)}):
        assert fast(raw, 0) == exact(raw, 0)
        assert_agree(raw)
    assert calls == ([] if starts < ends else [0])


@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.LENIENT])
def test_a_dimension_text_seen_before_answers_what_the_reference_answers(mode: Mode) -> None:
    # Texts a decimal member passed are remembered: a repeat of one takes a set lookup,
    # and a text that failed, or one of another class, is never taken for one that passed.
    raw = {
        "sku": "MUG-1",
        "name": "Mug",
        "price": "9.50",
        "currency": "EUR",
        "quantity": "3",
        "dimensions": {"width": "10.5", "height": "20", "depth": "3.25", "unit": "cm"},
    }
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    exact = ItemValidator(
        contract_for(2), mode, textual=True, partner_id=PARTNER, fast=False
    ).validate_exactly
    # Limits of their own: a validator generated for this test alone, its memory empty.
    limits = FeedLimits(max_field_chars=65_535)
    fast = build_fast_path(contract_for(2), mode, textual=True, partner_id=PARTNER, slow=spy, limits=limits)
    for index in (0, 1):
        assert fast(raw, index) == exact(raw, index)
    assert calls == []
    for index, dimensions in enumerate(
        [
            {"width": "010.5", "height": "20", "depth": "3.25", "unit": "cm"},  # not canonical
            {"width": "10.5", "height": "0", "depth": "3.25", "unit": "cm"},  # out of range
            {"width": "10.5", "height": "20", "depth": ["3.25", "3.25"], "unit": "cm"},  # repeated
            {"width": "10.5", "height": "20", "depth": {"value": "3.25"}, "unit": "cm"},
        ]
        * 2,
        start=2,
    ):
        item = {**raw, "dimensions": dimensions}
        assert fast(item, index) == exact(item, index)
        assert calls[-1] == index


@pytest.mark.parametrize("textual", [False, True])
def test_a_sale_window_seen_before_answers_what_the_reference_answers(textual: bool) -> None:
    # Date-times that passed are remembered with their instant: a repeat takes a dict lookup;
    # one refused (another spelling, not on the calendar, a window that ends first) never is.
    raw: dict[str, Any] = {
        "sku": "MUG-1",
        "name": "Mug",
        "price": Decimal("9.50"),
        "currency": "EUR",
        "quantity": 3,
        "sale_price": Decimal("7.50"),
        "sale_starts_at": "2026-11-27T00:00:00Z",
        "sale_ends_at": "2026-12-02T23:59:59Z",
    }
    item = as_text(raw) if textual else raw
    calls: list[int] = []

    def spy(item: object, index: int) -> Any:
        calls.append(index)
        return exact(item, index)

    exact = ItemValidator(
        contract_for(2), Mode.STRICT, textual=textual, partner_id=PARTNER, fast=False
    ).validate_exactly
    limits = FeedLimits(max_field_chars=65_534)  # a validator generated for this test alone
    fast = build_fast_path(
        contract_for(2), Mode.STRICT, textual=textual, partner_id=PARTNER, slow=spy, limits=limits
    )
    for index in (0, 1):
        assert fast(item, index) == exact(item, index)
    assert calls == []
    windows: list[dict[str, Any]] = [
        {"sale_starts_at": "2026-12-02T23:59:59Z", "sale_ends_at": "2026-11-27T00:00:00Z"},
        {"sale_ends_at": "2026-02-30T00:00:00Z"},
        {"sale_ends_at": ["2026-12-02T23:59:59Z"]},
        {"sale_starts_at": "2026-11-27T00:00:00+00:00"},
    ]
    for index, changes in enumerate(windows * 2, start=2):
        changed = {**item, **changes}
        assert fast(changed, index) == exact(changed, index)
        assert calls[-1] == index
