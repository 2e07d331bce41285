"""The change feed (ADR 0037): every create, update, retire and restore, once, in commit order, on every store.

Through `IngestFeed` and `ReadChanges` on memory, SQLite and PostgreSQL; on the
SQL stores two units of work committing out of the order they wrote in, and
concurrent writers paged by a consumer.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.errors import InvalidCursor
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed, ReadChanges
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)


def setup(store: StoreUnderTest, *partners: str) -> IngestFeed:
    clock = FakeClock()
    with store.unit_of_work() as uow:
        for pid in partners:
            uow.partners.add(Partner(id=pid, name=pid, created_at=clock.now(), default_version=2))
        uow.commit()
    return IngestFeed(store.unit_of_work, REGISTRY, clock, SequentialIds(), batch_size=3)


def item(sku: str, **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"P {sku}", "price": 10, "currency": "EUR", "quantity": 1, **changes}


def send(
    ingest: IngestFeed, partner: str, items: list[dict[str, Any]], mode: FeedMode = FeedMode.UPSERT
) -> None:
    body = io.BytesIO(json.dumps({"products": items}).encode())
    ingest(FeedSubmission(partner_id=partner, body=body, format="json", feed_mode=mode))


def every_change(read: ReadChanges, **kw: Any) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    after = None
    while True:
        page = read(after, limit=2, **kw)
        if not page.changes:
            return out
        out.extend((c.partner_id, c.sku, str(c.kind)) for c in page.changes)
        after = page.next_after


def test_every_create_update_retire_and_restore_is_one_change_in_order(store: StoreUnderTest) -> None:
    ingest = setup(store, "acme", "globex")
    send(ingest, "acme", [item("A"), item("B")])
    send(ingest, "acme", [item("A"), item("B", price=12)])  # A unchanged: no change record
    send(ingest, "globex", [item("G")])
    read = ReadChanges(store.unit_of_work)
    everything = every_change(read)
    assert everything[:4] == [
        ("acme", "A", "created"),
        ("acme", "B", "created"),
        ("acme", "B", "updated"),
        ("globex", "G", "created"),
    ]
    send(ingest, "acme", [{"sku": "A", "_delete": True}])
    send(ingest, "acme", [item("A")])
    assert every_change(read, partner_id="acme")[-2:] == [("acme", "A", "retired"), ("acme", "A", "restored")]
    assert every_change(read, partner_id="globex") == [("globex", "G", "created")]


def test_a_page_resumes_after_its_cursor_and_a_bad_cursor_is_refused(store: StoreUnderTest) -> None:
    ingest = setup(store, "acme")
    send(ingest, "acme", [item(s) for s in "ABCDE"])
    read = ReadChanges(store.unit_of_work)
    first = read(None, limit=3)
    rest = read(first.next_after, limit=10)
    assert [c.sku for c in first.changes + rest.changes] == list("ABCDE")
    assert read(rest.next_after).changes == ()
    assert read(rest.next_after).next_after == rest.next_after
    with pytest.raises(InvalidCursor):
        read("not-a-cursor")
    # Past the stores' 64-bit integers, or digits that are not ASCII: refused, never an overflow.
    for beyond in (
        "9" * 19,
        "9223372036854775808",
        "9223372036854775808.1",
        "1.9223372036854775808",
        "\u00b2",
    ):
        with pytest.raises(InvalidCursor):
            read(beyond)


def test_a_long_poll_answers_when_a_change_arrives(store: StoreUnderTest) -> None:
    ingest = setup(store, "acme")
    read = ReadChanges(store.unit_of_work, poll_seconds=0.02)
    timer = threading.Timer(0.2, send, (ingest, "acme", [item("LATE")]))
    timer.start()
    try:
        page = read(None, wait=10)
    finally:
        timer.join()
    assert [c.sku for c in page.changes] == ["LATE"]


def _row(sku: str) -> tuple[Any, ...]:
    return Product.from_row(  # a valid product, written straight through the repository
        (
            "acme",
            sku,
            "x",
            "1.00",
            "EUR",
            1,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
    ).to_row()


def test_a_transaction_committing_after_a_later_numbered_one_is_not_skipped(store: StoreUnderTest) -> None:
    """T1 writes first, T2 writes after it; T2 commits first, the consumer reads, then T1 commits:
    the consumer's next page has T1's change, so nothing is skipped, in commit order."""
    setup(store, "acme")
    if isinstance(store, InMemoryStore):
        # One unit of work at a time: a second one waits for the first to end, so no two interleave.
        entered = threading.Event()

        def second() -> None:
            store.unit_of_work().__enter__()
            entered.set()

        with store.unit_of_work() as uow:
            uow.products.upsert([_row("FIRST-WRITTEN")])
            other = threading.Thread(target=second, daemon=True)
            other.start()
            assert not entered.wait(0.2)
            uow.commit()
        assert entered.wait(5)
        return
    read = ReadChanges(store.unit_of_work)
    t1_wrote, t2_committed, t1_may_commit = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def t1() -> None:
        try:
            with store.unit_of_work() as first:
                first.products.upsert([_row("FIRST-WRITTEN")])
                t1_wrote.set()
                assert t1_may_commit.wait(10)
                first.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            t1_wrote.set()

    thread = threading.Thread(target=t1)
    thread.start()
    assert t1_wrote.wait(10)
    if "Sqlite" in type(store).__name__:
        # SQLite has one writer: T2 cannot write before T1 commits, so the interleaving cannot
        # happen; T1 commits, then T2 writes, and the order is the commit order.
        t1_may_commit.set()
        thread.join()
    with store.unit_of_work() as second_uow:
        second_uow.products.upsert([_row("SECOND-WRITTEN")])
        second_uow.commit()
    t2_committed.set()
    seen = read(None)
    t1_may_commit.set()
    thread.join()
    assert not errors, errors
    later = read(seen.next_after)
    order = [c.sku for c in seen.changes + later.changes]
    assert sorted(order) == ["FIRST-WRITTEN", "SECOND-WRITTEN"]  # each once, none skipped
    if "Postgres" in type(store).__name__:
        assert [c.sku for c in seen.changes] == ["SECOND-WRITTEN"]  # T1 had not committed yet
        assert [c.sku for c in later.changes] == ["FIRST-WRITTEN"]


def test_concurrent_writers_are_seen_exactly_once(store: StoreUnderTest) -> None:
    writers = 2 if isinstance(store, InMemoryStore) else 4
    ingest = setup(store, *(f"p{n}" for n in range(writers)))
    read = ReadChanges(store.unit_of_work)
    seen: list[str] = []
    done = threading.Event()

    def consume() -> None:
        after = None
        while True:
            finished = done.is_set()  # before the read: a read racing the last commit goes again
            page = read(after, limit=50)
            seen.extend(f"{c.partner_id}/{c.sku}" for c in page.changes)
            after = page.next_after
            if finished and not page.changes:
                return

    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for batch in range(5):
                body = io.BytesIO(
                    json.dumps({"products": [item(f"S{batch}-{k}") for k in range(4)]}).encode()
                )
                report = ingest(FeedSubmission(partner_id=f"p{n}", body=body, format="json"))
                assert report.counts.created == 4, report
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    consumer.join(60)
    assert not failures, failures
    expected = {f"p{n}/S{b}-{k}" for n in range(writers) for b in range(5) for k in range(4)}
    assert len(seen) == len(expected) and set(seen) == expected


def test_the_feeds_end_is_the_newest_changes_cursor(store: StoreUnderTest) -> None:
    """What the product cache's follower starts after (ADR 0017): nothing before it is read again."""
    ingest = setup(store, "acme")
    with store.unit_of_work(read_only=True) as uow:
        assert uow.changes.end() is None
    send(ingest, "acme", [item("A"), item("B"), item("C"), item("D")])
    with store.unit_of_work(read_only=True) as uow:
        end = uow.changes.end()
        newest = uow.changes.after(None, limit=100)[-1]
        assert end == newest.cursor and uow.changes.after(end) == []
    send(ingest, "acme", [item("B", price=11)])
    with store.unit_of_work(read_only=True) as uow:
        assert [(c.sku, str(c.kind)) for c in uow.changes.after(end)] == [("B", "updated")]
