"""The mass-delete guard: held, released, discarded and empty snapshots, on every store (ADR 0036)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.domain.model import (
    AuditAction,
    AuditQuery,
    ConflictError,
    FeedStatus,
    ImportStatus,
    Partner,
)
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.retirement import RetirementGuard
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed, SettleHeldFeeds
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)
PARTNER = "acme"
TEN = [f"S{n}" for n in range(10)]


def item(sku: str, **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"Product {sku}", "price": 10, "currency": "EUR", "quantity": 1, **changes}


class Catalog:
    def __init__(self, store: StoreUnderTest, guard: RetirementGuard | None = None) -> None:
        self.store = store
        clock = FakeClock()
        with store.unit_of_work() as uow:
            uow.partners.add(Partner(id=PARTNER, name="Acme", created_at=clock.now(), default_version=2))
            uow.commit()
        self.ingest = IngestFeed(
            store.unit_of_work, REGISTRY, clock, SequentialIds(), batch_size=4, guard=guard
        )
        self.settle = SettleHeldFeeds(store.unit_of_work, self.ingest, clock)

    def send(self, items: list[dict[str, Any]], mode: FeedMode = FeedMode.UPSERT) -> Any:
        body = io.BytesIO(json.dumps({"products": items}).encode())
        return self.ingest(FeedSubmission(partner_id=PARTNER, body=body, format="json", feed_mode=mode))

    def active(self) -> dict[str, int]:
        with self.store.unit_of_work(read_only=True) as uow:
            return {p.sku: p.quantity for p in uow.products.page(PARTNER, limit=1000)}

    def status(self, feed_id: str) -> ImportStatus:
        with self.store.unit_of_work(read_only=True) as uow:
            entry = uow.imports.get(feed_id)
        assert entry is not None
        return entry.status

    def audited(self, action: AuditAction) -> list[dict[str, Any]]:
        with self.store.unit_of_work(read_only=True) as uow:
            return [dict(e.details) for e in uow.audit.query(AuditQuery(action=action))]


def test_a_snapshot_retiring_up_to_the_share_applies(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    catalog.send([item(s) for s in TEN])
    report = catalog.send([item(s) for s in TEN[:8]], FeedMode.SNAPSHOT)  # 2 of 10: 20%, not more
    assert (report.status, report.counts.retired) == (FeedStatus.ACCEPTED, 2)


def test_a_snapshot_retiring_more_than_the_share_is_held_and_writes_nothing(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    catalog.send([item(s) for s in TEN])
    report = catalog.send([item(s, quantity=5) for s in TEN[:7]] + [item("NEW")], FeedMode.SNAPSHOT)
    assert report.status is FeedStatus.HELD
    assert (report.counts.created, report.counts.updated, report.counts.retired) == (1, 7, 3)
    assert catalog.active() == dict.fromkeys(TEN, 1)  # not a single write
    assert catalog.status(report.feed_id) is ImportStatus.HELD
    assert [entry.id for entry in catalog.settle.held()] == [report.feed_id]
    assert catalog.audited(AuditAction.FEED_HELD)[0]["retired"] == 3


def test_releasing_applies_exactly_what_was_held_even_after_newer_feeds(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    catalog.send([item(s) for s in TEN])
    held = catalog.send([item(s, quantity=5) for s in TEN[:7]], FeedMode.SNAPSHOT)  # would retire S7-S9
    assert held.status is FeedStatus.HELD
    # Meanwhile: a new product, and a change to one the held snapshot names.
    catalog.send([item("LATE"), item("S0", quantity=99)])

    release = catalog.settle.release(held.feed_id, actor="admin:ops")

    assert release.status is FeedStatus.ACCEPTED and release.feed_id != held.feed_id
    assert release.counts.retired == 3
    # S0 takes the held snapshot's value (the release is the newer write); LATE, which the held
    # snapshot never saw, is not retired; exactly S7-S9 are.
    assert catalog.active() == {**dict.fromkeys(TEN[:7], 5), "LATE": 1}
    assert catalog.status(held.feed_id) is ImportStatus.RELEASED
    assert catalog.settle.held() == []
    released = catalog.audited(AuditAction.FEED_RELEASED)
    assert released[0]["feed_id"] == held.feed_id and released[0]["release_feed_id"] == release.feed_id
    with pytest.raises(ConflictError):
        catalog.settle.release(held.feed_id, actor="admin:ops")


def test_discarding_forgets_a_held_snapshot_once(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    catalog.send([item(s) for s in TEN])
    held = catalog.send([item("S0")], FeedMode.SNAPSHOT)
    discarded = catalog.settle.discard(held.feed_id, actor="admin:ops")
    assert discarded.status is ImportStatus.DISCARDED
    assert catalog.active() == dict.fromkeys(TEN, 1)
    assert catalog.audited(AuditAction.FEED_DISCARDED)[0]["feed_id"] == held.feed_id
    with pytest.raises(ConflictError):
        catalog.settle.discard(held.feed_id, actor="admin:ops")
    with pytest.raises(ConflictError):
        catalog.settle.release(held.feed_id, actor="admin:ops")


def test_an_empty_snapshot_never_wipes_a_catalog_whatever_the_share(store: StoreUnderTest) -> None:
    catalog = Catalog(store, RetirementGuard(max_share=1.0))
    catalog.send([item(s) for s in TEN])
    report = catalog.send([], FeedMode.SNAPSHOT)
    assert (report.status, report.counts.retired) == (FeedStatus.HELD, 10)
    assert catalog.active() == dict.fromkeys(TEN, 1)


def test_a_snapshot_retiring_more_than_the_count_is_held(store: StoreUnderTest) -> None:
    catalog = Catalog(store, RetirementGuard(max_share=1.0, max_count=1))
    catalog.send([item(s) for s in TEN])
    assert catalog.send([item(s) for s in TEN[:9]], FeedMode.SNAPSHOT).status is FeedStatus.ACCEPTED
    assert catalog.send([item(s) for s in TEN[:7]], FeedMode.SNAPSHOT).status is FeedStatus.HELD


def test_an_unknown_import_cannot_be_settled(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    with pytest.raises(Exception, match="not found"):
        catalog.settle.release("feed_nope", actor="admin:ops")


def test_releasing_retires_what_a_newer_feed_restored_and_restores_what_it_deleted(
    store: StoreUnderTest,
) -> None:
    """The rest of the ordering rule (SettleHeldFeeds): the release is the newer write, for
    retirements too; a product a newer feed retired already is not counted again."""
    catalog = Catalog(store)
    catalog.send([item(s) for s in TEN])
    held = catalog.send([item(s) for s in TEN[:7]], FeedMode.SNAPSHOT)  # would retire S7-S9
    assert held.status is FeedStatus.HELD
    # Meanwhile: S8 deleted then sent again (restored), S9 deleted, S0 (which the held snapshot
    # names) deleted.
    catalog.send([{"sku": s, "_delete": True} for s in ("S8", "S9", "S0")])
    catalog.send([item("S8", quantity=4)])

    release = catalog.settle.release(held.feed_id, actor="admin:ops")

    assert release.status is FeedStatus.ACCEPTED
    assert release.counts.retired == 2  # S7 and the restored S8; S9 was retired already
    assert catalog.active() == dict.fromkeys(TEN[:7], 1)  # S0 restored by the release
    with store.unit_of_work(read_only=True) as uow:
        retired = [p.sku for p in uow.products.page(PARTNER, retired=True)]
    assert retired == ["S7", "S8", "S9"]


def test_a_held_snapshot_of_another_partner_is_listed_apart(store: StoreUnderTest) -> None:
    catalog = Catalog(store)
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="globex", name="Globex", created_at=FakeClock().now(), default_version=2))
        uow.commit()
    catalog.send([item(s) for s in TEN])
    held = catalog.send([item("S0")], FeedMode.SNAPSHOT)
    assert [entry.id for entry in catalog.settle.held(PARTNER)] == [held.feed_id]
    assert catalog.settle.held("globex") == []
