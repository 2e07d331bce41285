"""The SQLite writer (ADR 0043): queued feeds share a transaction, each isolated, each durable when answered.

A real writer thread on a real database file. The first call waits inside its unit of
work until every other call is queued, so all of them land in one batch; what each
`done` reads on a connection of its own the moment it is told its answer, and what a
store opened afresh finds, are what a client and a restarted service would see.
"""

from __future__ import annotations

import functools
import io
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.feeds import jsonl_feed
from support.writer_calls import Answers

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.sqlite.testing import seed_partner
from partner_ingest.adapters_out.sqlite.writer import SqliteWriter
from partner_ingest.adapters_out.store_errors import BatchNotDurable, StoreFullError
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model.audit import AuditQuery
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.feed_terms import Ingested, IngestStep
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain
from partner_ingest.plugins import load_formats
from partner_ingest.ports import UnitOfWork

FORMATS = load_formats(entry_points=False)
FEEDS = 6
ITEMS = 3


class RefusingStep(Exception):
    """What the failing request's step raises, inside its unit of work."""


def stored(path: Path, partner_id: str) -> int:
    """Products of a partner, read on a connection of its own (not the writer's)."""
    with sqlite3.connect(path) as conn:
        return int(
            conn.execute("SELECT count(*) FROM product WHERE partner_id = ?", (partner_id,)).fetchone()[0]
        )


def feed(partner: str, items: int = ITEMS) -> FeedSubmission:
    return FeedSubmission(partner_id=partner, body=io.BytesIO(jsonl_feed(items)), format="jsonl", version=2)


def test_one_batch_keeps_every_neighbour_of_a_failing_feed_and_answers_each_once_durable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "writer.db"
    store = SqliteStore(path)
    partners = [f"p{n}" for n in range(FEEDS)]
    for partner in partners:
        seed_partner(store, partner)
    writer = SqliteWriter(store)
    ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
    answers = Answers(functools.partial(stored, path), FEEDS)
    running, queued = threading.Event(), threading.Event()
    statements: list[str] = []

    def hold_the_writer(uow: UnitOfWork, ingested: Ingested) -> None:
        # Inside the first feed's unit of work: wait until every other feed is queued behind it.
        uow.conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        running.set()
        assert queued.wait(30)

    def refuse(uow: UnitOfWork, ingested: Ingested) -> None:
        raise RefusingStep("this request fails after writing its products")

    def send(partner: str, steps: list[IngestStep]) -> IngestReport:
        return ingest(feed(partner), steps=steps)

    for partner in partners:
        steps: list[IngestStep] = (
            [hold_the_writer] if partner == "p0" else [refuse] if partner == "p3" else []
        )
        writer.submit(functools.partial(send, partner, steps), answers.done(partner))
        if partner == "p0":
            assert running.wait(30)
    queued.set()
    assert answers.told.wait(60)

    assert set(answers.errors) == {"p3"} and isinstance(answers.errors["p3"], RefusingStep)
    assert all(isinstance(answers.values[p], IngestReport) for p in partners if p != "p3")
    # p0 committed alone (the others queued while it held the writer), then p1..p5 in one batch.
    assert writer.batches == 2
    assert answers.seen == {p: 0 if p == "p3" else ITEMS for p in partners}
    # The chain's newest hash was read once a batch, not once a feed.
    assert sum("FROM partner_ingest_audit ORDER BY id DESC" in s for s in statements) == 2
    writer.close()
    store.close()
    reopened = SqliteStore(path)
    with reopened.unit_of_work(read_only=True) as uow:
        assert {p: uow.products.count(p) for p in partners} == {
            p: 0 if p == "p3" else ITEMS for p in partners
        }
        assert all(uow.imports.latest_applied(p) is not None for p in partners if p != "p3")
        # The batch appended its members' audit entries at its commit: in the order they were
        # kept, none for the feed that was undone, the chain unbroken.
        oldest_first = [e.partner_id for e in reversed(uow.audit.query(AuditQuery(limit=100)))]
        assert [p for n, p in enumerate(oldest_first) if n == 0 or oldest_first[n - 1] != p] == [
            p for p in partners if p != "p3"
        ]
    verdict = VerifyAuditChain(reopened.audit_log)()
    assert verdict.ok and verdict.entries == len(oldest_first)
    reopened.close()


def test_one_partners_feeds_are_stored_in_the_order_they_were_submitted(tmp_path: Path) -> None:
    path = tmp_path / "order.db"
    store = SqliteStore(path)
    seed_partner(store, "ordered")
    writer = SqliteWriter(store)
    ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
    answers = Answers(functools.partial(stored, path), 15)
    for price in range(1, 16):
        line = f'{{"sku": "S-1", "name": "One", "price": {price}.00, "currency": "EUR", "quantity": 1}}\n'
        submission = FeedSubmission(partner_id="ordered", body=io.BytesIO(line.encode()), format="jsonl")
        writer.submit(functools.partial(ingest, submission), answers.done(f"feed-{price:02d}"))
    assert answers.told.wait(60)
    assert not answers.errors
    last = answers.values["feed-15"]
    assert isinstance(last, IngestReport)
    writer.close()
    store.close()
    reopened = SqliteStore(path)
    with reopened.unit_of_work(read_only=True) as uow:
        product = uow.products.get("ordered", "S-1")
        # The last feed's values, and the last feed named as their import, though it may have
        # shared a transaction with the others.
        assert product is not None and (str(product.price), product.feed_id) == ("15.00", last.feed_id)
    reopened.close()


def test_closing_finishes_the_queued_calls_and_refuses_later_ones(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    store = SqliteStore(path)
    seed_partner(store, "late")
    writer = SqliteWriter(store)
    ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
    answers = Answers(functools.partial(stored, path), 4)
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        assert release.wait(30)
        return "first"

    writer.submit(slow, answers.done("first"))
    assert started.wait(30)
    for n in range(3):
        writer.submit(lambda: ingest(feed("late")), answers.done(f"queued-{n}"))
    closing = threading.Thread(target=writer.close)
    closing.start()
    time.sleep(0.05)
    release.set()
    closing.join(30)
    assert not closing.is_alive()
    assert answers.told.wait(30)
    assert answers.values["first"] == "first"
    assert all(isinstance(answers.values[f"queued-{n}"], IngestReport) for n in range(3))
    assert stored(path, "late") == ITEMS
    refused: list[BaseException | None] = []
    writer.submit(lambda: "never run", lambda value, error: refused.append(error))
    assert len(refused) == 1 and isinstance(refused[0], BatchNotDurable)
    store.close()


def test_a_write_that_finds_the_database_full_raises_store_full_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    # A write can meet a full disk before the commit does (once the page cache spills), inside
    # one call's savepoint: it is refused as a full store (503), never as a raw sqlite3 error,
    # and the next call is written as usual.
    path = tmp_path / "full.db"
    store = SqliteStore(path)
    writer = SqliteWriter(store)
    results: list[tuple[object, BaseException | None]] = []
    told = threading.Semaphore(0)

    def tell(value: object, error: BaseException | None) -> None:
        results.append((value, error))
        told.release()

    def run(work: Callable[[], object]) -> tuple[object, BaseException | None]:
        writer.submit(work, tell)
        assert told.acquire(timeout=30)
        return results[-1]

    def create() -> int:
        with writer.unit_of_work() as uow:
            uow.conn.execute("CREATE TABLE filler (b BLOB)")
            uow.commit()
        pages = int(uow.conn.execute("PRAGMA page_count").fetchone()[0])
        uow.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL past two more pages
        return pages

    def overfill() -> None:
        with writer.unit_of_work() as uow:
            uow.conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(64)])
            uow.commit()

    def one_row() -> None:
        with writer.unit_of_work() as uow:
            uow.conn.execute("PRAGMA max_page_count = 1073741823")
            uow.conn.execute("INSERT INTO filler VALUES (x'00')")
            uow.commit()

    assert run(create)[1] is None
    assert isinstance(run(overfill)[1], StoreFullError)
    assert run(one_row) == (None, None)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM filler").fetchone()[0] == 1
    writer.close()
    store.close()
