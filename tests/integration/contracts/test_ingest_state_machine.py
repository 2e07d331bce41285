"""Every store against a pure model of product ingest: a hypothesis `RuleBasedStateMachine` (ADR 0027).

Feeds of a few SKUs (valid items, invalid ones, json or jsonl, atomic or not)
are ingested in any order through `IngestFeed` on the store under test, with
or without an Idempotency-Key from a small set, and sent again: the same bytes
under the same terms, the same key with the same request (an idempotent
replay), or a key reused for a different request. The model is plain data
(the products by SKU, the partner's latest applied feed, each key's request)
and says, before each call, what must happen: the report's status and counts,
the earlier report for a repeat, `IdempotencyKeyReused` for a reused key, and
the partner's products afterwards, which the store must hold exactly.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from support.sqlite_files import migrated_database
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import (
    FeedStatus,
    IdempotencyKeyReused,
    IngestReport,
    Partner,
    PolicyOverrides,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

FORMATS = load_formats(entry_points=False)
SKUS = ("A", "B", "C", "D")
KEYS = (None, "key-1", "key-2", "key-3")
_partners = itertools.count(1)
_ids = SequentialIds()  # feed ids are unique across examples (one store serves them all)


@attrs.frozen
class Item:
    sku: str
    name: str
    price: str
    quantity: int
    valid: bool

    def json(self) -> str:
        name = f'"name":"{self.name}",' if self.valid else ""  # an invalid item lacks its name
        return (
            f'{{"sku":"{self.sku}",{name}"price":{self.price},"currency":"EUR","quantity":{self.quantity}}}'
        )


@attrs.frozen
class Request:
    """One submission as the model sees it: what makes a repeat, and what a key is bound to."""

    body: bytes
    format: str
    atomic: bool
    items: tuple[Item, ...]

    @property
    def fingerprint(self) -> tuple[str, str, bool]:
        return (hashlib.sha256(self.body).hexdigest(), self.format, self.atomic)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    skus = draw(st.lists(st.sampled_from(SKUS), unique=True, max_size=len(SKUS)))
    items = tuple(
        Item(
            sku,
            draw(st.sampled_from(["Mug", "Cup"])),
            draw(st.sampled_from(["1.00", "2.50"])),
            draw(st.integers(0, 2)),
            draw(st.booleans() | st.just(True)),
        )
        for sku in skus
    )
    fmt = draw(st.sampled_from(["json", "jsonl"]))
    lines = [item.json() for item in items]
    body = (
        '{"products":[' + ",".join(lines) + "]}" if fmt == "json" else "".join(f"{line}\n" for line in lines)
    )
    return Request(body.encode(), fmt, draw(st.booleans()), items)


class ProductIngest(RuleBasedStateMachine):
    """One store, fed by random submissions, compared with the pure model."""

    store: StoreUnderTest

    def __init__(self) -> None:
        super().__init__()
        # A partner of its own per example: the store needs no clean-up between examples.
        self.partner = f"ingest-model-{next(_partners)}"
        clock = FakeClock()
        with self.store.unit_of_work() as uow:
            uow.partners.add(
                Partner(id=self.partner, name="Model", created_at=clock.now(), allow_policy_override=True)
            )
            uow.commit()
        self.ingest = IngestFeed(self.store.unit_of_work, FORMATS, clock, _ids)
        # The model.
        self.products: dict[str, tuple[str, str, int]] = {}
        self.latest: tuple[tuple[str, str, bool], IngestReport] | None = None
        self.keys: dict[str, tuple[tuple[str, str, bool], IngestReport]] = {}
        self.sent: list[Request] = []

    # --- the model's answer ---------------------------------------------------------

    def submit(self, request: Request, key: str | None) -> None:
        fingerprint = request.fingerprint
        if key is not None and key in self.keys and self.keys[key][0] != fingerprint:
            with pytest.raises(IdempotencyKeyReused):
                self.call(request, key)
            return
        if key is not None and key in self.keys:
            assert self.call(request, key) == self.keys[key][1], "a replay answers the first report"
            return
        if self.latest is not None and self.latest[0] == fingerprint:
            report = self.call(request, key)
            assert report == self.latest[1], "the same feed under the same terms is a repeat"
            if key is not None:
                self.keys[key] = (fingerprint, report)
            return
        report = self.call(request, key)
        self.expect_processed(request, report)
        if key is not None:
            self.keys[key] = (fingerprint, report)
        if report.applied:
            self.latest = (fingerprint, report)

    def expect_processed(self, request: Request, report: IngestReport) -> None:
        valid = [item for item in request.items if item.valid]
        rejected = len(request.items) - len(valid)
        counts = report.counts
        assert (counts.received, counts.rejected) == (len(request.items), rejected), report.to_json()
        if (request.atomic and rejected) or (request.items and not valid):
            assert report.status is FeedStatus.REJECTED, report.to_json()
            return
        assert report.status is (FeedStatus.PARTIAL if rejected else FeedStatus.ACCEPTED), report.to_json()
        created = updated = unchanged = 0
        for item in valid:
            row = (item.name, item.price, item.quantity)
            before = self.products.get(item.sku)
            if before is None:
                created += 1
            elif before != row:
                updated += 1
            else:
                unchanged += 1
            self.products[item.sku] = row
        assert (counts.created, counts.updated, counts.unchanged) == (created, updated, unchanged), (
            report.to_json()
        )

    def call(self, request: Request, key: str | None) -> IngestReport:
        self.sent.append(request)
        return self.ingest(
            FeedSubmission(
                partner_id=self.partner,
                body=io.BytesIO(request.body),
                format=request.format,
                version=1,
                overrides=PolicyOverrides(atomic=request.atomic),
                idempotency_key=key,
            )
        )

    # --- rules ------------------------------------------------------------------------

    @rule(request=requests(), key=st.sampled_from(KEYS))
    def a_new_feed(self, request: Request, key: str | None) -> None:
        self.submit(request, key)

    @rule(data=st.data(), key=st.sampled_from(KEYS))
    def a_feed_sent_before(self, data: st.DataObject, key: str | None) -> None:
        if self.sent:
            self.submit(data.draw(st.sampled_from(self.sent)), key)

    @rule(data=st.data())
    def a_replay_under_a_used_key(self, data: st.DataObject) -> None:
        """The request a key was first used for, again with that key: the first report."""
        if self.keys:
            key = data.draw(st.sampled_from(sorted(self.keys)))
            first = next(r for r in self.sent if r.fingerprint == self.keys[key][0])
            self.submit(first, key)

    @rule(data=st.data(), request=requests())
    def a_used_key_with_other_content(self, data: st.DataObject, request: Request) -> None:
        if self.keys:
            self.submit(request, data.draw(st.sampled_from(sorted(self.keys))))

    @invariant()
    def the_store_holds_the_models_products(self) -> None:
        with self.store.unit_of_work() as uow:
            stored = {p.sku: (p.name, str(p.price), p.quantity) for p in uow.products.page(self.partner)}
        assert stored == self.products


def examples(kind: str) -> int:
    """A fifth of the profile's examples on memory (each is a dozen ingests), a twentieth on the
    SQL stores (each ingest is a few transactions): 20 and 5 by default, 40 and 10 in CI."""
    return max(5, settings().max_examples // (5 if kind == "memory" else 20))


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_every_store_ingests_as_the_model_says(kind: str, tmp_path: Path) -> None:
    if kind == "postgres":
        from support.postgres import postgres_store

        with postgres_store() as pg:
            run_machine(pg, kind)
        return
    store: Any = (
        InMemoryStore() if kind == "memory" else SqliteStore(migrated_database(tmp_path / "machine.db"))
    )
    run_machine(store, kind)


def run_machine(store: StoreUnderTest, kind: str) -> None:
    machine = type("ProductIngestOnStore", (ProductIngest,), {"store": store})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=examples(kind), stateful_step_count=12, deadline=None)
    )
