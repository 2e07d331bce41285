"""The change records and counts of a product batch, whichever way the upsert tells them: from
its probe's counts alone (every partner's SKUs all new, or all stored and active) or from the
stored rows (a mix, a retired product, some unchanged). Each batch is checked against what a
plain model of the stored products says it must record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.sqlite_files import migrated_database

from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import Partner, Product
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.ports.repositories import UpsertCounts

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Item = tuple[str, str, int]
"""A product of a batch: partner, SKU, and its price in cents (what changes it)."""


def _row(partner_id: str, sku: str, cents: int) -> ProductRow:
    price = Decimal(cents) / 100
    return Product(
        partner_id=partner_id, sku=sku, name=f"Item {sku}", price=price, currency="EUR", quantity=1
    ).to_row()


class Model:
    """The stored products as a dict, and the records and counts a batch must produce."""

    def __init__(self) -> None:
        self.prices: dict[tuple[str, str], int] = {}
        self.retired: set[tuple[str, str]] = set()

    def write(self, batch: Sequence[Item]) -> tuple[UpsertCounts, list[tuple[str, str, list[str]]]]:
        created: dict[str, list[str]] = {}
        rewritten: list[tuple[str, str, str]] = []
        unchanged = 0
        for partner_id, sku, cents in batch:
            key = (partner_id, sku)
            if key not in self.prices:
                created.setdefault(partner_id, []).append(sku)
            elif self.prices[key] != cents or key in self.retired:
                rewritten.append((partner_id, sku, "restored" if key in self.retired else "updated"))
            else:
                unchanged += 1
            self.prices[key] = cents
            self.retired.discard(key)
        records = [(partner_id, "created", skus) for partner_id, skus in created.items()]
        kinds: dict[tuple[str, str], list[str]] = {}
        for partner_id, sku, kind in sorted(rewritten):
            kinds.setdefault((partner_id, kind), []).append(sku)
        records += [(partner_id, kind, skus) for (partner_id, kind), skus in kinds.items()]
        counts = UpsertCounts(sum(map(len, created.values())), len(rewritten), unchanged)
        return counts, records


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(migrated_database(tmp_path / "changes.db"))
    with opened.unit_of_work() as uow:
        for partner_id in ("acme", "beta"):
            uow.partners.add(Partner(id=partner_id, name=partner_id, created_at=T0, default_version=2))
        uow.commit()
    return opened


BATCHES: list[list[Item]] = [
    [("acme", "A", 100), ("acme", "B", 100), ("beta", "X", 100)],  # all new, two partners
    [("acme", "B", 200), ("acme", "A", 200)],  # all stored, all changed, out of SKU order
    [("acme", "A", 200), ("acme", "B", 200)],  # all stored, none changed
    [("acme", "A", 300), ("acme", "B", 200), ("acme", "C", 100)],  # one changed, one not, one new
    [("beta", "X", 200), ("acme", "D", 100)],  # one partner all stored, the other all new
    [("beta", "Y", 100), ("beta", "X", 300), ("acme", "A", 400), ("acme", "E", 100)],  # mixes
]


def test_every_batch_records_what_the_model_says(store: SqliteStore) -> None:
    model = Model()
    for number, batch in enumerate(BATCHES):
        _check(store, model, batch, number)
        if number == 2:
            _retire(store, model, "acme", ["A", "B"])
    store.close()


def test_a_batch_that_restores_every_product_it_names_records_restores(store: SqliteStore) -> None:
    model = Model()
    _check(store, model, [("acme", "A", 100), ("acme", "B", 100)], 0)
    _retire(store, model, "acme", ["A", "B"])
    _check(store, model, [("acme", "A", 100), ("acme", "B", 200)], 1)  # both restored, one changed too
    _retire(store, model, "acme", ["A"])
    _check(store, model, [("acme", "A", 100), ("acme", "B", 300)], 2)  # one restored, one updated
    _retire(store, model, "acme", ["B"])
    _check(store, model, [("acme", "A", 100), ("acme", "B", 300)], 3)  # one unchanged, one restored
    store.close()


def _retire(store: SqliteStore, model: Model, partner_id: str, skus: list[str]) -> None:
    with store.unit_of_work() as uow:
        uow.products.retire(partner_id, skus, datetime.now(UTC))
        uow.commit()
    model.retired.update((partner_id, sku) for sku in skus)


def _check(store: SqliteStore, model: Model, batch: list[Item], number: int) -> None:
    conn = store.connection()
    last = conn.execute("SELECT coalesce(max(id), 0) FROM partner_product_changes").fetchone()[0]
    with store.unit_of_work() as uow:
        counts = uow.products.upsert([_row(*item) for item in batch], feed_id=f"feed-{number}")
        uow.commit()
    expected_counts, expected_records = model.write(batch)
    records = [
        (partner_id, kind, json.loads(skus))
        for partner_id, kind, skus in conn.execute(
            "SELECT partner_id, kind, skus FROM partner_product_changes WHERE id > ?"
            " AND kind <> 'retired' ORDER BY id",
            (last,),
        )
    ]
    assert (counts, records) == (expected_counts, expected_records), f"batch {number}: {batch}"
