"""The platform's reads of a catalog and the lifecycle's retention, on every store (ADR 0036, 0037, 0016).

Through the use cases the admin and partner APIs call (`ReadProducts`, `ReadChanges`,
`PurgeRetiredProducts`, `PurgeChanges`) on memory, SQLite and PostgreSQL: retired products
are hidden unless asked for, listings page by cursor with their filters, a product read
back answers its effective price at an instant, and both retentions purge what they
should and nothing else.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.domain.model import NotFoundError, Partner
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed, ReadChanges
from partner_ingest.domain.use_cases.read_imports import ReadProducts
from partner_ingest.domain.use_cases.retired_products import PurgeChanges, PurgeRetiredProducts
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)
PARTNER = "acme"
RETENTION = timedelta(days=30)


class Catalog:
    """One partner's catalog on a store, fed through `IngestFeed` at the clock's time."""

    def __init__(self, store: StoreUnderTest) -> None:
        self.store = store
        self.clock = FakeClock(datetime.now(UTC))
        with store.unit_of_work() as uow:
            uow.partners.add(Partner(id=PARTNER, name="Acme", created_at=self.clock.now(), default_version=2))
            uow.commit()
        self.ingest = IngestFeed(store.unit_of_work, REGISTRY, self.clock, SequentialIds(), batch_size=3)
        self.products = ReadProducts(store.unit_of_work)

    def send(self, items: list[dict[str, Any]], mode: FeedMode = FeedMode.UPSERT) -> None:
        body = io.BytesIO(json.dumps({"products": items}).encode())
        report = self.ingest(FeedSubmission(partner_id=PARTNER, body=body, format="json", feed_mode=mode))
        assert report.applied, report

    def listed(self, **filters: Any) -> list[str]:
        """Every SKU of a listing, read two at a time by its cursor."""
        out: list[str] = []
        after = None
        while True:
            page = self.products.page(PARTNER, after_sku=after, limit=2, **filters)
            out.extend(p.sku for p in page.products)
            if page.next_after is None:
                return out
            after = page.next_after


def item(sku: str, **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"Product {sku}", "price": 10, "currency": "EUR", "quantity": 1, **changes}


@pytest.fixture
def catalog(store: StoreUnderTest) -> Catalog:
    return Catalog(store)


def test_retired_products_are_hidden_from_reads_unless_asked_for(catalog: Catalog) -> None:
    catalog.send([item(s) for s in "ABCDEFG"])
    catalog.send([item(s) for s in "ACE"] + [{"sku": s, "_delete": True} for s in "BDFG"])
    assert catalog.listed() == ["A", "C", "E"]
    assert catalog.listed(retired=True) == ["B", "D", "F", "G"]
    with pytest.raises(NotFoundError):
        catalog.products.get(PARTNER, "B")
    assert catalog.products.get(PARTNER, "B", retired=True).sku == "B"
    with pytest.raises(NotFoundError):
        catalog.products.get(PARTNER, "A", retired=True)
    assert [p.sku for p in catalog.products.search_names(PARTNER, "product").products] == ["A", "C", "E"]


def test_listings_updated_since_an_instant_page_by_cursor_active_or_retired(catalog: Catalog) -> None:
    catalog.send([item(s) for s in "ABCDEFG"])
    time.sleep(0.01)  # stores keep milliseconds: the instant is clearly after the first feed
    since = datetime.now(UTC)
    time.sleep(0.01)
    catalog.send([item("B", price=11), item("D", price=11), item("F", price=11), item("H")])
    catalog.clock.set(datetime.now(UTC))  # a retirement is written at the use case's clock
    catalog.send([{"sku": s, "_delete": True} for s in "CE"])
    assert catalog.listed(updated_since=since) == ["B", "D", "F", "H"]
    assert catalog.listed(updated_since=since, retired=True) == ["C", "E"]
    assert catalog.listed(updated_since=since - timedelta(hours=1)) == ["A", "B", "D", "F", "G", "H"]
    assert catalog.listed(updated_since=datetime.now(UTC) + timedelta(hours=1)) == []


def test_a_product_read_back_answers_its_effective_price_at_an_instant(catalog: Catalog) -> None:
    catalog.send(
        [
            item(
                "SALE",
                sale_price=7.5,
                sale_starts_at="2026-03-01T00:00:00Z",
                sale_ends_at="2026-03-08T00:00:00Z",
            ),
            item("PLAIN"),
        ]
    )
    start = datetime(2026, 3, 1, tzinfo=UTC)
    sale = catalog.products.get(PARTNER, "SALE")
    assert sale.price_at(start - timedelta(milliseconds=1)) == Decimal("10.00")
    assert sale.price_at(start) == Decimal("7.50")
    assert sale.price_at(start + timedelta(days=7)) == Decimal("10.00")  # the end is outside
    assert catalog.products.get(PARTNER, "PLAIN").price_at(start) == Decimal("10.00")


def test_retired_products_are_purged_after_the_retention_and_a_later_feed_creates_them_anew(
    store: StoreUnderTest, catalog: Catalog
) -> None:
    catalog.send([item(s) for s in "ABCDEFGHIJ"])
    catalog.send([{"sku": "A", "_delete": True}])
    catalog.clock.advance(days=10)
    catalog.send([item(s) for s in "CDEFGHIJ"], FeedMode.SNAPSHOT)  # retires B
    purge = PurgeRetiredProducts(store.unit_of_work, catalog.clock, RETENTION)
    assert purge() == 0
    catalog.clock.advance(days=21)  # A retired 31 days ago, B 21
    assert purge() == 1
    assert catalog.listed(retired=True) == ["B"]
    catalog.clock.advance(days=10)
    assert purge() == 1
    assert catalog.listed(retired=True) == [] and catalog.listed() == list("CDEFGHIJ")
    read = ReadChanges(store.unit_of_work)
    last = read(None, limit=1000).next_after
    catalog.send([item("A")])
    assert [(c.sku, str(c.kind)) for c in read(last).changes] == [("A", "created")]  # not a restore


def test_change_records_are_purged_after_the_retention_and_a_consumer_goes_on(
    store: StoreUnderTest, catalog: Catalog
) -> None:
    catalog.send([item(s) for s in "AB"])
    read = ReadChanges(store.unit_of_work)
    consumer = read(None, limit=1)  # a consumer that has handled A so far
    time.sleep(0.01)
    clock = FakeClock(datetime.now(UTC) + RETENTION)  # A and B's records are past the retention
    time.sleep(0.01)
    catalog.send([item("C")])
    assert PurgeChanges(store.unit_of_work, clock, RETENTION)() == 2
    assert [c.sku for c in read(None).changes] == ["C"]
    # The consumer's cursor still works: it goes on with what is kept (B was purged unread).
    assert [c.sku for c in read(consumer.next_after).changes] == ["C"]
    assert PurgeChanges(store.unit_of_work, clock, RETENTION)() == 0
