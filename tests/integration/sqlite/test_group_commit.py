"""Group commit on SQLite (ADR 0039): concurrent feeds share a transaction, each isolated, each durable when answered.

Real threads on a real database file. A step inside the first feed's unit of
work holds its turn until every other feed is queued, so all of them land in
one batch; what each thread reads back right after its feed was answered, on a
connection of its own, and what a store opened afresh finds, are what a
client and a restarted service would see.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from support.feeds import jsonl_feed

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.sqlite.group_commit import GroupCommit
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.sqlite.testing import seed_partner
from partner_ingest.adapters_out.store_errors import StoreFullError
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.ingest_feed import Ingested
from partner_ingest.plugins import load_formats
from partner_ingest.ports import UnitOfWork

FORMATS = load_formats(entry_points=False)
FEEDS = 6
ITEMS = 3


class RefusingStep(Exception):
    """What the failing request's step raises, inside its unit of work."""


def stored(path: Path, partner_id: str) -> int:
    """Products of a partner, read on a connection of its own (not the group's)."""
    with sqlite3.connect(path) as conn:
        return int(
            conn.execute("SELECT count(*) FROM product WHERE partner_id = ?", (partner_id,)).fetchone()[0]
        )


def test_one_batch_keeps_every_neighbour_of_a_failing_feed_and_answers_each_once_durable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "group.db"
    store = SqliteStore(path)
    partners = [f"p{n}" for n in range(FEEDS)]
    for partner in partners:
        seed_partner(store, partner)
    group = GroupCommit(store)
    ingest = IngestFeed(group.unit_of_work, FORMATS, FakeClock(), UuidIds())
    seen_when_answered: dict[str, int] = {}
    failures: dict[str, BaseException] = {}

    def hold_the_turn(uow: UnitOfWork, ingested: Ingested) -> None:
        # Inside the first feed's turn: wait until every other feed is queued behind it.
        deadline = time.monotonic() + 30
        while group._waiting < FEEDS - 1 and time.monotonic() < deadline:
            time.sleep(0.005)

    def refuse(uow: UnitOfWork, ingested: Ingested) -> None:
        raise RefusingStep("this request fails after writing its products")

    def send(partner: str) -> None:
        steps = [hold_the_turn] if partner == "p0" else [refuse] if partner == "p3" else []
        try:
            ingest(
                FeedSubmission(
                    partner_id=partner, body=io.BytesIO(jsonl_feed(ITEMS)), format="jsonl", version=2
                ),
                steps=steps,
            )
        except BaseException as error:
            failures[partner] = error
            return
        seen_when_answered[partner] = stored(path, partner)

    first = threading.Thread(target=send, args=("p0",))
    first.start()
    while not group._busy:
        time.sleep(0.001)
    others = [threading.Thread(target=send, args=(p,)) for p in partners[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(60)

    assert set(failures) == {"p3"} and isinstance(failures["p3"], RefusingStep)
    assert group.batches == 1  # five feeds, one transaction, one sync
    assert seen_when_answered == {p: ITEMS for p in partners if p != "p3"}
    group.close()
    store.close()
    reopened = SqliteStore(path)
    with reopened.unit_of_work(read_only=True) as uow:
        assert {p: uow.products.count(p) for p in partners} == {
            p: 0 if p == "p3" else ITEMS for p in partners
        }
        assert all(uow.imports.latest_applied(p) is not None for p in partners if p != "p3")
    reopened.close()


def test_one_partners_feeds_are_stored_in_the_order_they_were_answered(tmp_path: Path) -> None:
    path = tmp_path / "order.db"
    store = SqliteStore(path)
    seed_partner(store, "ordered")
    seed_partner(store, "noisy")
    group = GroupCommit(store)
    ingest = IngestFeed(group.unit_of_work, FORMATS, FakeClock(), UuidIds())
    stop = threading.Event()
    last: str | None = None

    def noise() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ingest(
                FeedSubmission(partner_id="noisy", body=io.BytesIO(jsonl_feed(2, first=n)), format="jsonl")
            )

    neighbours = [threading.Thread(target=noise) for _ in range(3)]
    for thread in neighbours:
        thread.start()
    try:
        for price in range(1, 16):
            line = f'{{"sku": "S-1", "name": "One", "price": {price}.00, "currency": "EUR", "quantity": 1}}\n'
            report = ingest(
                FeedSubmission(partner_id="ordered", body=io.BytesIO(line.encode()), format="jsonl")
            )
            assert report.applied
            last = report.feed_id
    finally:
        stop.set()
        for thread in neighbours:
            thread.join(60)
    group.close()
    store.close()
    reopened = SqliteStore(path)
    with reopened.unit_of_work(read_only=True) as uow:
        product = uow.products.get("ordered", "S-1")
        # The last feed's values, and the last feed named as their import, though it shared a
        # transaction with its neighbours' feeds.
        assert product is not None and (str(product.price), product.feed_id) == ("15.00", last)
    reopened.close()


def test_a_thread_cannot_open_a_second_grouped_unit_of_work_inside_its_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nested.db")
    group = GroupCommit(store)
    with group.unit_of_work() as outer:
        with pytest.raises(RuntimeError, match="already has a unit of work open"):
            group.unit_of_work().__enter__()
        outer.rollback()
    with group.unit_of_work() as uow:  # the turn was given back
        uow.commit()
    group.close()
    store.close()


def test_a_write_that_finds_the_database_full_raises_store_full_and_the_group_goes_on(tmp_path: Path) -> None:
    # A write can meet a full disk before the commit does (once the page cache spills), inside
    # one unit's savepoint: it is refused as a full store (503), never as a raw sqlite3 error.
    path = tmp_path / "full.db"
    store = SqliteStore(path)
    group = GroupCommit(store)
    with group.unit_of_work() as uow:
        uow.conn.execute("CREATE TABLE filler (b BLOB)")
        uow.commit()
    pages = int(group.conn.execute("PRAGMA page_count").fetchone()[0])
    group.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL past two more pages

    def overfill() -> None:
        with group.unit_of_work() as uow:
            uow.conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(64)])
            uow.commit()

    with pytest.raises(StoreFullError):
        overfill()
    group.conn.execute("PRAGMA max_page_count = 1073741823")
    with group.unit_of_work() as uow:
        uow.conn.execute("INSERT INTO filler VALUES (x'00')")
        uow.commit()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM filler").fetchone()[0] == 1
    group.close()
    store.close()
