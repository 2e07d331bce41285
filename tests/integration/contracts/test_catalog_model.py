"""A stateful model of one partner's catalog against every store (ADR 0036, 0037).

Hypothesis drives upserts, snapshots (applied or held by the guard), patches,
deletes, releases and discards through the real use cases, and two upserts at once
(disjoint SKUs, in two threads) while a consumer pages the change feed; after every
step the store must equal a pure reference model: the active products and their
quantities, the retired SKUs, and the change feed (read by cursor, also while the
concurrent feeds commit) must say exactly what the model says happened, each
product's changes once and in the order they happened.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support.examples import examples
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import FeedStatus, Partner
from partner_ingest.domain.model.changes import Change
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed, ReadChanges, SettleHeldFeeds
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)
SKUS = [f"S{n}" for n in range(8)]
_partners = itertools.count()

sku_quantities = st.dictionaries(st.sampled_from(SKUS), st.integers(0, 3), max_size=8)
first_half = st.dictionaries(st.sampled_from(SKUS[:4]), st.integers(0, 3), min_size=1, max_size=4)
second_half = st.dictionaries(st.sampled_from(SKUS[4:]), st.integers(0, 3), min_size=1, max_size=4)


def by_sku(changes: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Each SKU's changes in the order given (the order across SKUs of one feed is the store's)."""
    out: dict[str, list[str]] = {}
    for sku, kind in changes:
        out.setdefault(sku, []).append(kind)
    return out


def catalog_machine(store: StoreUnderTest) -> type[RuleBasedStateMachine]:
    class Catalog(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.partner = f"model-{next(_partners)}"
            clock = self.clock = FakeClock()
            with store.unit_of_work() as uow:
                uow.partners.add(
                    Partner(id=self.partner, name="Model", created_at=clock.now(), default_version=2)
                )
                uow.commit()
            self.ingest = IngestFeed(store.unit_of_work, REGISTRY, clock, UuidIds(), batch_size=3)
            self.settle = SettleHeldFeeds(store.unit_of_work, self.ingest, clock)
            self.read = ReadChanges(store.unit_of_work)
            # the reference model
            self.active: dict[str, int] = {}
            self.retired: set[str] = set()
            self.held: list[tuple[str, dict[str, int], list[str]]] = []
            self.changes: list[tuple[str, str]] = []
            self.seen: list[Change] = []
            self.cursor: str | None = None

        def send(self, items: list[dict[str, Any]], mode: FeedMode, *, advance: bool = True) -> Any:
            if advance:
                self.clock.advance(1)  # imports in time order: "the latest applied feed" is the last one
            body = io.BytesIO(json.dumps({"products": items}).encode())
            return self.ingest(
                FeedSubmission(partner_id=self.partner, body=body, format="json", feed_mode=mode)
            )

        @staticmethod
        def item(sku: str, quantity: int) -> dict[str, Any]:
            return {"sku": sku, "name": f"P {sku}", "price": 5, "currency": "EUR", "quantity": quantity}

        def write(self, sku: str, quantity: int) -> None:
            if sku in self.active:
                if self.active[sku] != quantity:
                    self.changes.append((sku, "updated"))
            elif sku in self.retired:
                self.retired.discard(sku)
                self.changes.append((sku, "restored"))
            else:
                self.changes.append((sku, "created"))
            self.active[sku] = quantity

        def retire(self, sku: str) -> None:
            if sku in self.active:
                del self.active[sku]
                self.retired.add(sku)
                self.changes.append((sku, "retired"))

        @rule(feed=sku_quantities)
        def upsert(self, feed: dict[str, int]) -> None:
            self.send([self.item(s, q) for s, q in feed.items()], FeedMode.UPSERT)
            for sku, quantity in feed.items():
                self.write(sku, quantity)

        @rule(feed=sku_quantities)
        def snapshot(self, feed: dict[str, int]) -> None:
            report = self.send([self.item(s, q) for s, q in feed.items()], FeedMode.SNAPSHOT)
            absent = sorted(set(self.active) - set(feed))
            created = sum(1 for s in feed if s not in self.active and s not in self.retired)
            before = len(self.active)
            held = bool(absent) and (len(absent) >= before or len(absent) > 0.2 * before)
            assert (report.status is FeedStatus.HELD) == held, (report, absent, before, created)
            if held:
                self.held.append((report.feed_id, dict(feed), absent))
                return
            for sku, quantity in sorted(feed.items()):
                self.write(sku, quantity)
            for sku in absent:
                self.retire(sku)

        @rule(sku=st.sampled_from(SKUS), quantity=st.integers(0, 3))
        def patch(self, sku: str, quantity: int) -> None:
            report = self.send([{"sku": sku, "quantity": quantity}], FeedMode.PATCH)
            if sku in self.active:
                assert report.errors == ()
                self.write(sku, quantity)
            else:
                assert [e.code for e in report.errors] == ["unknown_sku"]

        @rule(sku=st.sampled_from(SKUS))
        def delete(self, sku: str) -> None:
            self.send([{"sku": sku, "_delete": True}], FeedMode.UPSERT)
            self.retire(sku)

        @rule(first=first_half, second=second_half)
        def concurrent_upserts(self, first: dict[str, int], second: dict[str, int]) -> None:
            """Two upserts at once, while a consumer pages the change feed until both committed."""
            self.clock.advance(1)
            start = threading.Barrier(2)
            written = threading.Event()
            failures: list[BaseException] = []

            def write(feed: dict[str, int]) -> None:
                try:
                    start.wait(10)
                    report = self.send(
                        [self.item(s, q) for s, q in feed.items()], FeedMode.UPSERT, advance=False
                    )
                    assert report.applied, report
                except BaseException as error:  # pragma: no cover - reported below
                    failures.append(error)

            def consume() -> None:
                try:
                    while True:
                        finished = written.is_set()  # before the read: one racing the last commit goes again
                        page = self.read(self.cursor, limit=3, partner_id=self.partner)
                        self.seen.extend(page.changes)
                        self.cursor = page.next_after
                        if not page.changes:
                            if finished:
                                return
                            written.wait(0.005)
                except BaseException as error:  # pragma: no cover - reported below
                    failures.append(error)

            consumer = threading.Thread(target=consume)
            writers = [threading.Thread(target=write, args=(feed,)) for feed in (first, second)]
            consumer.start()
            for thread in writers:
                thread.start()
            for thread in writers:
                thread.join(60)
            written.set()
            consumer.join(60)
            assert not failures, failures
            for feed in (first, second):
                for sku, quantity in feed.items():
                    self.write(sku, quantity)

        @precondition(lambda self: bool(self.held))
        @rule(data=st.data())
        def release(self, data: st.DataObject) -> None:
            feed_id, feed, absent = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
            self.clock.advance(1)
            self.settle.release(feed_id, actor="model")
            for sku, quantity in sorted(feed.items()):
                self.write(sku, quantity)
            for sku in absent:
                self.retire(sku)

        @precondition(lambda self: bool(self.held))
        @rule()
        def discard(self) -> None:
            feed_id, _, _ = self.held.pop(0)
            self.settle.discard(feed_id, actor="model")

        @invariant()
        def the_store_is_the_model(self) -> None:
            with store.unit_of_work(read_only=True) as uow:
                active = {p.sku: p.quantity for p in uow.products.page(self.partner, limit=100)}
                retired = {p.sku for p in uow.products.page(self.partner, limit=100, retired=True)}
            assert active == self.active
            assert retired == self.retired
            while True:
                page = self.read(self.cursor, limit=7, partner_id=self.partner)
                if not page.changes:
                    break
                self.seen.extend(page.changes)
                self.cursor = page.next_after
            seen, self.seen = self.seen, []
            expected, self.changes = self.changes, []
            assert by_sku([(c.sku, str(c.kind)) for c in seen]) == by_sku(expected)

    return Catalog


def test_the_catalog_behaves_like_its_model(store: StoreUnderTest) -> None:
    run_state_machine_as_test(
        catalog_machine(store),
        settings=settings(max_examples=examples(15), stateful_step_count=12, deadline=None),
    )
