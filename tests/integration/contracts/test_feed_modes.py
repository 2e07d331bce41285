"""Feed modes (upsert, snapshot, patch) and explicit deletes, on every store (ADR 0036).

Through `IngestFeed` on memory, SQLite and PostgreSQL: the same feeds leave the
same catalogs and the same reports everywhere.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import attrs
import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.domain.model import ErrorCode, FeedStatus, IngestReport, Partner
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import PolicyOverrides
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)
PARTNER = "acme"


@pytest.fixture
def ingest(store: StoreUnderTest) -> IngestFeed:
    clock = FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(
                id=PARTNER, name="Acme", created_at=clock.now(), default_version=2, allow_policy_override=True
            )
        )
        uow.commit()
    return IngestFeed(store.unit_of_work, REGISTRY, clock, SequentialIds(), batch_size=3)


def item(sku: str, **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sku": sku,
        "name": f"Product {sku}",
        "price": 10,
        "currency": "EUR",
        "quantity": 1,
    }
    out.update(changes)
    return out


def send(
    ingest: IngestFeed,
    items: list[dict[str, Any]],
    mode: FeedMode | None = None,
    *,
    fmt: str = "json",
    **kw: Any,
) -> IngestReport:
    if fmt == "json":
        body = json.dumps({"products": items}).encode()
    elif fmt == "jsonl":
        body = "\n".join(json.dumps(i) for i in items).encode()
    else:
        body = _text_feed(fmt, items)
    return ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format=fmt, feed_mode=mode, **kw))


def _text_feed(fmt: str, items: list[dict[str, Any]]) -> bytes:
    columns = list(dict.fromkeys(key for i in items for key in i))
    if fmt == "csv":
        lines = [",".join(columns)]
        lines += [
            ",".join(
                str(i.get(c, "")).lower() if isinstance(i.get(c), bool) else str(i.get(c, ""))
                for c in columns
            )
            for i in items
        ]
        return ("\n".join(lines) + "\n").encode()
    elements = []
    for i in items:
        inner = "".join(f"<{k}>{str(v).lower() if isinstance(v, bool) else v}</{k}>" for k, v in i.items())
        elements.append(f"<product>{inner}</product>")
    return f"<catalog>{''.join(elements)}</catalog>".encode()


def skus(store: StoreUnderTest, *, retired: bool = False) -> list[str]:
    with store.unit_of_work(read_only=True) as uow:
        return [p.sku for p in uow.products.page(PARTNER, limit=1000, retired=retired)]


def test_upsert_leaves_products_the_feed_does_not_name(store: StoreUnderTest, ingest: IngestFeed) -> None:
    send(ingest, [item("A"), item("B")])
    report = send(ingest, [item("B", price=12), item("C")], FeedMode.UPSERT)
    assert (report.counts.created, report.counts.updated, report.counts.retired) == (1, 1, 0)
    assert skus(store) == ["A", "B", "C"]


def test_a_snapshot_retires_what_it_does_not_name_and_a_later_feed_restores_it(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item(s) for s in "ABCDEFGHIJ"])
    report = send(ingest, [item(s) for s in "ABCDEFGHI"], FeedMode.SNAPSHOT)
    assert report.status is FeedStatus.ACCEPTED
    assert (report.counts.unchanged, report.counts.retired) == (9, 1)
    assert skus(store) == list("ABCDEFGHI")
    assert skus(store, retired=True) == ["J"]
    with store.unit_of_work(read_only=True) as uow:
        assert uow.products.get(PARTNER, "J") is None
        assert uow.products.get(PARTNER, "J", retired=True) is not None
        assert uow.products.count(PARTNER) == 9
    again = send(ingest, [item("J")])
    assert (again.counts.created, again.counts.updated) == (0, 1)  # restored
    assert skus(store) == list("ABCDEFGHIJ")
    assert skus(store, retired=True) == []


def test_a_snapshot_with_an_invalid_item_keeps_that_items_product(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item(s) for s in "ABCDEFGHIJ"])
    report = send(ingest, [item(s) for s in "ABCDEFGHI"] + [item("J", price=-1)], FeedMode.SNAPSHOT)
    assert report.status is FeedStatus.PARTIAL
    assert report.counts.retired == 0
    assert "J" in skus(store)


@pytest.mark.parametrize(
    ("feed", "overrides"),
    [
        (b'{"products": [{"sku": "A", "name": "x", "price": 1, "currency": "EUR", "quantity": 1}', None),
        (json.dumps({"products": [item("A"), item("B", price="x")]}).encode(), PolicyOverrides(atomic=True)),
    ],
    ids=["truncated", "atomic-with-an-invalid-item"],
)
def test_a_rejected_snapshot_retires_nothing(
    store: StoreUnderTest, ingest: IngestFeed, feed: bytes, overrides: PolicyOverrides | None
) -> None:
    send(ingest, [item(s) for s in "ABCDEFGHIJ"])
    report = ingest(
        FeedSubmission(
            partner_id=PARTNER,
            body=io.BytesIO(feed),
            format="json",
            feed_mode=FeedMode.SNAPSHOT,
            overrides=overrides or PolicyOverrides(),
        )
    )
    assert report.status is FeedStatus.REJECTED
    assert skus(store) == list("ABCDEFGHIJ")


def test_the_partners_default_mode_applies_when_a_feed_names_none(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item(s) for s in "ABCDEFGHIJ"])
    with store.unit_of_work() as uow:
        partner = uow.partners.get(PARTNER)
        assert partner is not None
        uow.partners.update(attrs.evolve(partner, feed_mode=FeedMode.SNAPSHOT))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.partners.get(PARTNER)
        assert stored is not None and stored.feed_mode is FeedMode.SNAPSHOT
    report = send(ingest, [item(s) for s in "ABCDEFGHI"])
    assert report.counts.retired == 1
    assert send(ingest, [item("K")], FeedMode.UPSERT).counts.retired == 0  # a feed's own mode wins


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "xml"])
def test_an_explicit_delete_retires_its_sku_in_every_builtin_format(
    store: StoreUnderTest, ingest: IngestFeed, fmt: str
) -> None:
    send(ingest, [item("A"), item("B"), item("C")])
    report = send(ingest, [{"sku": "B", "_delete": True}, {"sku": "Z", "_delete": True}], fmt=fmt)
    assert report.status is FeedStatus.ACCEPTED, report.errors
    assert (report.counts.deleted, report.counts.unchanged) == (1, 1)  # Z was never there
    assert skus(store) == ["A", "C"]
    assert skus(store, retired=True) == ["B"]


def test_a_delete_spelled_wrongly_is_an_item_error_and_a_repeat_is_a_duplicate(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item("A"), item("B")])
    report = send(ingest, [{"sku": "A", "_delete": "yes"}, item("B"), {"sku": "B", "_delete": True}])
    assert [(e.index, e.field, e.code) for e in report.errors] == [
        (0, "_delete", ErrorCode.TYPE),
        (2, "sku", ErrorCode.DUPLICATE),
    ]
    assert skus(store) == ["A", "B"]


def test_a_patch_changes_only_the_fields_it_names(store: StoreUnderTest, ingest: IngestFeed) -> None:
    send(ingest, [item("A", brand="Acme", description="Blue", quantity=5), item("B")])
    report = send(ingest, [{"sku": "A", "price": 12.5, "brand": None}], FeedMode.PATCH)
    assert report.status is FeedStatus.ACCEPTED, report.errors
    assert report.counts.updated == 1
    with store.unit_of_work(read_only=True) as uow:
        a = uow.products.get(PARTNER, "A")
    assert a is not None
    assert (a.price, a.brand, a.description, a.quantity, a.name) == (
        Decimal("12.50"),
        None,
        "Blue",
        5,
        "Product A",
    )


def feed_ids(store: StoreUnderTest, *, retired: bool = False) -> dict[str, str | None]:
    with store.unit_of_work(read_only=True) as uow:
        return {p.sku: p.feed_id for p in uow.products.page(PARTNER, limit=1000, retired=retired)}


def test_every_feed_mode_records_the_import_that_wrote_each_product(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    first = send(ingest, [item(s) for s in "ABCDEFGHIJ"])
    patch = send(ingest, [{"sku": "A", "quantity": 7}], FeedMode.PATCH)
    rest = [item(s) for s in "CDEFGHI"]
    snapshot = send(ingest, [item("A", quantity=7), item("B", price=11), *rest], FeedMode.SNAPSHOT)
    assert snapshot.status is FeedStatus.ACCEPTED
    assert (patch.counts.updated, snapshot.counts.updated, snapshot.counts.retired) == (1, 1, 1)
    # A: the patch wrote its values, the snapshot sent them unchanged; B: changed by the
    # snapshot; C to I: unchanged since the first feed; J: retired, keeping what wrote its values.
    found = feed_ids(store)
    assert (found.pop("A"), found.pop("B")) == (patch.feed_id, snapshot.feed_id)
    assert found == dict.fromkeys("CDEFGHI", first.feed_id)
    assert feed_ids(store, retired=True) == {"J": first.feed_id}
    restore = send(ingest, [item("J")])
    assert restore.counts.updated == 1
    assert feed_ids(store)["J"] == restore.feed_id


def test_a_csv_patch_names_only_the_columns_it_changes(store: StoreUnderTest, ingest: IngestFeed) -> None:
    send(ingest, [item("A", quantity=5), item("B")])
    body = b"sku,price\nA,12.5\n"
    report = ingest(
        FeedSubmission(
            partner_id=PARTNER, body=io.BytesIO(body), format="csv", version=2, feed_mode=FeedMode.PATCH
        )
    )
    assert report.status is FeedStatus.ACCEPTED, (report.feed_error, report.errors)
    with store.unit_of_work(read_only=True) as uow:
        a = uow.products.get(PARTNER, "A")
    assert a is not None and (a.price, a.quantity) == (Decimal("12.50"), 5)
    # The same header is the feed's error where rows are whole products (an upsert).
    upsert = ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format="csv", version=2))
    assert upsert.feed_error is not None and upsert.feed_error.code is ErrorCode.MISSING_COLUMN


def test_a_patch_of_an_unknown_sku_or_clearing_a_required_field_is_an_item_error(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item("A"), item("B")])
    report = send(
        ingest,
        [{"sku": "NOPE", "price": 3}, {"sku": "A", "name": None}, {"sku": "B", "quantity": 9}],
        FeedMode.PATCH,
    )
    assert report.status is FeedStatus.PARTIAL
    assert [(e.index, e.field, e.code) for e in report.errors] == [
        (0, "sku", ErrorCode.UNKNOWN_SKU),
        (1, "name", ErrorCode.MISSING),
    ]
    with store.unit_of_work(read_only=True) as uow:
        b = uow.products.get(PARTNER, "B")
        a = uow.products.get(PARTNER, "A")
    assert b is not None and b.quantity == 9
    assert a is not None and a.name == "Product A"


def test_retired_products_are_purged_after_the_retention_and_their_history_stays(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    from datetime import timedelta

    from partner_ingest.domain.model import AuditAction, AuditQuery
    from partner_ingest.domain.use_cases.retired_products import PurgeRetiredProducts

    send(ingest, [item("A"), item("B")])
    send(ingest, [{"sku": "B", "_delete": True}])

    retired_at = FakeClock().now()  # the fixture's clock, which retired B
    soon = FakeClock(retired_at + timedelta(days=1))
    assert PurgeRetiredProducts(store.unit_of_work, soon, timedelta(days=30))() == 0
    assert skus(store, retired=True) == ["B"]
    later = FakeClock(retired_at + timedelta(days=31))
    assert PurgeRetiredProducts(store.unit_of_work, later, timedelta(days=30))() == 1
    assert skus(store, retired=True) == [] and skus(store) == ["A"]
    with store.unit_of_work(read_only=True) as uow:
        entries = uow.audit.query(AuditQuery(action=AuditAction.FEED_INGESTED))
    assert any(entry.details["deleted"] == 1 for entry in entries)  # the delete stays in the audit trail


@pytest.mark.parametrize("mode", list(FeedMode))
def test_an_explicit_delete_retires_its_sku_in_every_mode(
    store: StoreUnderTest, ingest: IngestFeed, mode: FeedMode
) -> None:
    send(ingest, [item(s) for s in "ABCDE"])
    named = [] if mode is FeedMode.PATCH else [item(s) for s in "ACDE"]
    report = send(ingest, [*named, {"sku": "B", "_delete": True}], mode)
    assert report.status is FeedStatus.ACCEPTED, report.errors
    # In a snapshot the deleted SKU counts as named: it is deleted, not retired twice.
    assert (report.counts.deleted, report.counts.retired) == (1, 0)
    assert skus(store) == list("ACDE")
    assert skus(store, retired=True) == ["B"]


def test_a_patch_of_a_retired_sku_is_an_item_error_and_restores_nothing(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    send(ingest, [item("A"), item("B")])
    send(ingest, [{"sku": "B", "_delete": True}])
    report = send(ingest, [{"sku": "B", "quantity": 3}], FeedMode.PATCH)
    assert [(e.index, e.field, e.code) for e in report.errors] == [(0, "sku", ErrorCode.UNKNOWN_SKU)]
    assert skus(store) == ["A"] and skus(store, retired=True) == ["B"]


def test_a_patch_with_null_clears_each_optional_field_and_keeps_the_rest(
    store: StoreUnderTest, ingest: IngestFeed
) -> None:
    full = item(
        "A",
        brand="Acme",
        description="Blue",
        gtin="4006381333931",
        sale_price=8,
        sale_starts_at="2026-01-01T00:00:00Z",
        sale_ends_at="2026-02-01T00:00:00Z",
    )
    send(ingest, [full])
    cleared = ["brand", "description", "gtin", "sale_price", "sale_starts_at", "sale_ends_at"]
    report = send(ingest, [{"sku": "A", **dict.fromkeys(cleared)}], FeedMode.PATCH)
    assert report.status is FeedStatus.ACCEPTED, report.errors
    with store.unit_of_work(read_only=True) as uow:
        a = uow.products.get(PARTNER, "A")
    assert a is not None
    assert [getattr(a, field) for field in cleared] == [None] * len(cleared)
    assert (a.name, a.price, a.quantity) == ("Product A", Decimal("10.00"), 1)
