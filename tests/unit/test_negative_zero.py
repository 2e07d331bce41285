"""Negative zero is zero: `-0.00` is stored and served as `0.00`, on every path.

A price of `-0.00` is in range (at least 0), and Decimal keeps its sign, so
without normalization it was stored, listed and rendered back as `-0.00`,
which downstream systems parse as a negative amount or show as such. JSON
numbers, lenient text, CSV and XML cells, the generated fast path and the
reference validator all drop the sign.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from strategies import PARTNER

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import (
    ItemValidator,
    Mode,
    Partner,
    Product,
    ValidationPolicy,
    contract_for,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

BUILT_IN = load_formats(entry_points=False)


def ingest(body: bytes, fmt: str, version: int, mode: Mode) -> InMemoryStore:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(id=PARTNER, name="Acme", created_at=clock.now(), policy=ValidationPolicy(mode=mode))
        )
        uow.commit()
    report = IngestFeed(store.unit_of_work, BUILT_IN, clock, SequentialIds())(
        FeedSubmission(
            partner_id=PARTNER,
            body=io.BytesIO(body),
            format=fmt,
            version=version,
        )
    )
    assert report.errors == () and report.feed_error is None, report.to_json()
    assert report.counts.created == 1
    return store


FEEDS = {
    "json number -0.00": (b'{"products":[{"sku":"A","name":"n","price":-0.00,"currency":"EUR","quantity":-0}]}', "json", 1, Mode.STRICT),
    "json number -0.0e3": (b'{"products":[{"sku":"A","name":"n","price":-0.0e3,"currency":"EUR","quantity":1}]}', "json", 1, Mode.STRICT),
    "jsonl number -0": (b'{"sku":"A","name":"n","price":-0.000,"currency":"JPY","quantity":1}\n', "jsonl", 1, Mode.STRICT),
    "json lenient text": (b'{"products":[{"sku":"A","name":"n","price":" -0.00 ","currency":"EUR","quantity":"-0"}]}', "json", 1, Mode.LENIENT),
    "json sale price": (b'{"products":[{"sku":"A","name":"n","price":0,"sale_price":-0.0,"currency":"EUR","quantity":1}]}', "json", 2, Mode.STRICT),
    "csv cell": (b"sku,name,price,currency,quantity\r\nA,n,-0.00,EUR,-0\r\n", "csv", 1, Mode.STRICT),
    "xml element": (b"<catalog><product><sku>A</sku><name>n</name><price>-0.00</price><currency>EUR</currency><quantity>0</quantity></product></catalog>", "xml", 1, Mode.STRICT),
}  # fmt: skip


@pytest.mark.parametrize("case", FEEDS.values(), ids=FEEDS.keys())
def test_negative_zero_is_stored_and_served_without_its_sign(case: tuple[bytes, str, int, Mode]) -> None:
    body, fmt, version, mode = case
    store = ingest(body, fmt, version, mode)
    row = store.tables.products[(PARTNER, "A")]
    product = Product.from_row(row)
    assert not product.price.is_signed(), row
    assert "-" not in row[3], row
    assert product.quantity == 0 or product.quantity == 1
    if product.sale_price is not None:
        assert not product.sale_price.is_signed(), row
    for fmt_name in ("json", "csv", "xml"):
        rendered = BUILT_IN.get(fmt_name, version).render([product])
        assert b"-0" not in rendered, rendered


VALIDATORS = [
    (version, mode, textual)
    for version in (1, 2)
    for mode in (Mode.STRICT, Mode.LENIENT)
    for textual in (False, True)
]


@pytest.mark.parametrize("setup", VALIDATORS, ids=str)
@pytest.mark.parametrize("zero", ["-0", "-0.0", "-0.00", "-0E+2", "-0E-9"])
def test_the_fast_path_and_the_reference_both_drop_the_sign(setup: tuple[int, Mode, bool], zero: str) -> None:
    version, mode, textual = setup
    validator = ItemValidator(contract_for(version), mode, textual=textual, partner_id=PARTNER)
    item: dict[str, Any] = {"sku": "A", "name": "n", "price": Decimal(zero), "currency": "EUR", "quantity": 1}
    if version == 2:
        item["sale_price"] = Decimal(zero)
    if textual:
        item = {k: str(v) for k, v in item.items()}
    fast, exact = validator.validate(item, 0), validator.validate_exactly(item, 0)
    assert fast == exact
    if "E" in zero and textual:
        assert isinstance(exact, list)  # exponents are not decimal text (the contract's pattern)
        return
    assert isinstance(exact, tuple), exact
    assert exact[3] == "0.00"
    if version == 2:
        assert exact[15] == "0.00"
