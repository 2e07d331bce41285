"""Group commit on PostgreSQL (ADR 0044): concurrent feeds share a transaction, each isolated,
each durable when answered, the audit chain linear across instances.

Real threads on a real server. A step inside the first feed's unit of work holds its turn
until every other feed is queued, so all of them land in one batch; what each thread reads
back right after its feed was answered, on a pooled connection of its own, is what a client
(or another instance) would see.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from support.feeds import jsonl_feed
from support.postgres import postgres_store

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.postgres.group_commit import BatchNotDurable, PostgresGroupCommit
from partner_ingest.adapters_out.postgres.store import PostgresStore
from partner_ingest.adapters_out.store_errors import StoreUnreachableError
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import IngestReport, Partner
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.ingest_feed import Ingested, IngestStep
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain
from partner_ingest.plugins import load_formats
from partner_ingest.ports import UnitOfWork

FORMATS = load_formats(entry_points=False)
FEEDS = 6
ITEMS = 3


def seed(store: PostgresStore, *partners: str) -> None:
    with store.unit_of_work() as uow:
        for partner in partners:
            uow.partners.add(Partner(id=partner, name=partner.title(), created_at=datetime.now(UTC)))
        uow.commit()


def stored(store: PostgresStore, partner_id: str) -> int:
    """Products of a partner, read on a pooled connection of its own (not the group's)."""
    with store.connection() as conn:
        row = conn.execute("SELECT count(*) FROM product WHERE partner_id = %s", (partner_id,)).fetchone()
        assert row is not None
        return int(row[0])


def feed(partner: str, items: int = ITEMS, first: int = 0) -> FeedSubmission:
    return FeedSubmission(
        partner_id=partner, body=io.BytesIO(jsonl_feed(items, first=first)), format="jsonl", version=2
    )


def hold_until_queued(group: PostgresGroupCommit, others: int) -> None:
    """Inside the first feed's turn: wait until every other feed is queued behind it."""
    deadline = time.monotonic() + 30
    while group._waiting < others and time.monotonic() < deadline:
        time.sleep(0.005)


def in_one_batch(group: PostgresGroupCommit, first: Callable[[], None], *others: Callable[[], None]) -> None:
    """Run `first` on a thread until it has the turn, then `others` on threads of their own; wait for all."""
    threads = [threading.Thread(target=first)]
    threads[0].start()
    while not group._busy:
        time.sleep(0.001)
    threads += [threading.Thread(target=other) for other in others]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_one_batch_keeps_every_neighbour_of_a_failing_feed_and_answers_each_once_durable() -> None:
    with postgres_store() as store:
        partners = [f"p{n}" for n in range(FEEDS)]
        seed(store, *partners)
        group = PostgresGroupCommit(store)
        ingest = IngestFeed(group.unit_of_work, FORMATS, FakeClock(), UuidIds())
        seen_when_answered: dict[str, int] = {}
        reports: dict[str, IngestReport] = {}
        failures: dict[str, BaseException] = {}

        def hold_the_turn(uow: UnitOfWork, ingested: Ingested) -> None:
            hold_until_queued(group, FEEDS - 1)

        def refuse(uow: UnitOfWork, ingested: Ingested) -> None:
            # A failed statement: PostgreSQL aborts the shared transaction up to this feed's savepoint.
            group.conn.execute("SELECT 1 / 0")

        def send(partner: str) -> None:
            steps = [hold_the_turn] if partner == "p0" else [refuse] if partner == "p3" else []
            try:
                # The same SKUs for every partner: a feed's register of SKUs it has seen must
                # not carry over to the next feed of the shared transaction.
                reports[partner] = ingest(feed(partner), steps=steps)
            except BaseException as error:
                failures[partner] = error
                return
            seen_when_answered[partner] = stored(store, partner)

        in_one_batch(group, *(functools.partial(send, p) for p in partners))

        assert set(failures) == {"p3"} and isinstance(failures["p3"], psycopg.errors.DivisionByZero)
        assert group.batches == 1  # five feeds, one transaction, one chain lock, one sync
        assert seen_when_answered == {p: ITEMS for p in partners if p != "p3"}
        assert all(r.applied and r.counts.created == ITEMS and not r.errors for r in reports.values())
        with store.unit_of_work(read_only=True) as uow:
            assert {p: uow.products.count(p) for p in partners} == {
                p: 0 if p == "p3" else ITEMS for p in partners
            }
            assert all(uow.imports.latest_applied(p) is not None for p in partners if p != "p3")
            # Every kept feed's change records carry a commit number; the failed one has none.
            assert {c.partner_id for c in uow.changes.after(None, limit=100)} == set(partners) - {"p3"}
        verdict = VerifyAuditChain(store.audit_log)()
        assert verdict.ok and verdict.entries >= FEEDS - 1
        group.close()


def test_two_instances_interleave_their_batches_and_the_audit_chain_stays_linear() -> None:
    with postgres_store() as first_store:
        second_store = PostgresStore(first_store.url, schema=first_store.schema, pool_size=4)
        try:
            seed(first_store, "q")
            groups = [PostgresGroupCommit(first_store), PostgresGroupCommit(second_store)]
            ingests = [IngestFeed(g.unit_of_work, FORMATS, FakeClock(), UuidIds()) for g in groups]
            senders, rounds, ranges = 8, 8, 4
            failures: list[BaseException] = []

            def send(sender: int) -> None:
                for n in range(rounds):
                    # One partner's products, a few ranges of SKUs in a different order for each
                    # sender: two instances' batches write the same rows in different orders, and
                    # would deadlock if both held row locks at once.
                    first = ((sender + n) % ranges) * ITEMS
                    try:
                        ingests[sender % 2](feed("q", first=first))
                    except BaseException as error:
                        failures.append(error)

            threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)

            assert failures == []
            assert all(g.batches for g in groups)
            assert sum(g.batches for g in groups) < senders * rounds  # grouped
            assert stored(first_store, "q") == ranges * ITEMS
            verdict = VerifyAuditChain(first_store.audit_log)()
            assert verdict.ok and verdict.entries >= senders * rounds
            for g in groups:
                g.close()
        finally:
            second_store.close()


def test_two_instances_batches_take_turns_so_writing_the_same_rows_in_other_orders_cannot_deadlock() -> None:
    # Instance A's batch writes range X then range Y, instance B's Y then X. Were both batches
    # open at once, each would wait for rows the other holds until its commit: a deadlock.
    with postgres_store() as first_store:
        second_store = PostgresStore(first_store.url, schema=first_store.schema, pool_size=4)
        try:
            seed(first_store, "q")
            a, b = PostgresGroupCommit(first_store), PostgresGroupCommit(second_store)
            ingest_a, ingest_b = (IngestFeed(g.unit_of_work, FORMATS, FakeClock(), UuidIds()) for g in (a, b))
            x, y = 0, 100
            failures: list[BaseException] = []
            a_wrote = threading.Event()

            def until(condition: Callable[[], bool]) -> None:
                deadline = time.monotonic() + 10
                while not condition() and time.monotonic() < deadline:
                    time.sleep(0.005)

            def first_of_a(uow: UnitOfWork, ingested: Ingested) -> None:
                a_wrote.set()
                until(lambda: b._busy and b._waiting >= 1 and a._waiting >= 1)
                time.sleep(0.3)  # what B's first feed can write meanwhile, it writes

            def first_of_b(uow: UnitOfWork, ingested: Ingested) -> None:
                until(lambda: b._waiting >= 1)

            def send(ingest: IngestFeed, first: int, steps: list[IngestStep]) -> None:
                try:
                    assert ingest(feed("q", first=first), steps=steps).applied
                except BaseException as error:
                    failures.append(error)

            threads = [threading.Thread(target=send, args=(ingest_a, x, [first_of_a]))]
            threads[0].start()
            a_wrote.wait(10)
            threads.append(threading.Thread(target=send, args=(ingest_a, y, [])))
            threads.append(threading.Thread(target=send, args=(ingest_b, y, [first_of_b])))
            threads[1].start()
            threads[2].start()
            until(lambda: b._busy)
            threads.append(threading.Thread(target=send, args=(ingest_b, x, [])))
            threads[3].start()
            for thread in threads:
                thread.join(60)

            assert failures == []
            assert (a.batches, b.batches) == (1, 1)
            assert VerifyAuditChain(first_store.audit_log)().ok
            a.close()
            b.close()
        finally:
            second_store.close()


def test_a_failed_commit_fails_every_member_of_the_batch_and_the_next_batch_commits() -> None:
    with postgres_store() as store:
        seed(store, "r0", "r1", "r2")
        with store.connection() as conn:
            # Checked at COMMIT: a row in `trap` makes the commit of the transaction holding it fail.
            conn.execute("CREATE TABLE trap (n int)")
            conn.execute(
                "CREATE FUNCTION trap_sprung() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'the commit was refused'; END $$"
            )
            conn.execute(
                "CREATE CONSTRAINT TRIGGER sprung AFTER INSERT ON trap DEFERRABLE INITIALLY DEFERRED"
                " FOR EACH ROW EXECUTE FUNCTION trap_sprung()"
            )
        group = PostgresGroupCommit(store)
        ingest = IngestFeed(group.unit_of_work, FORMATS, FakeClock(), UuidIds())
        failures: dict[str, BaseException] = {}

        def spring_the_trap(uow: UnitOfWork, ingested: Ingested) -> None:
            group.conn.execute("INSERT INTO trap VALUES (1)")
            hold_until_queued(group, 2)

        def send(partner: str) -> None:
            try:
                ingest(feed(partner), steps=[spring_the_trap] if partner == "r0" else [])
            except BaseException as error:
                failures[partner] = error

        in_one_batch(group, *(functools.partial(send, p) for p in ("r0", "r1", "r2")))

        assert set(failures) == {"r0", "r1", "r2"}
        assert all(isinstance(e, BatchNotDurable) for e in failures.values()), failures
        assert "the commit was refused" in str(failures["r1"])
        assert {p: stored(store, p) for p in ("r0", "r1", "r2")} == {"r0": 0, "r1": 0, "r2": 0}
        assert group.batches == 0
        report = ingest(feed("r1"))  # the group goes on: the next batch commits
        assert report.applied and stored(store, "r1") == ITEMS and group.batches == 1
        verdict = VerifyAuditChain(store.audit_log)()
        assert verdict.ok
        group.close()


def test_a_connection_lost_mid_batch_fails_its_members_as_retryable_and_the_next_batch_reconnects() -> None:
    with postgres_store() as store:
        seed(store, "s0", "s1")
        group = PostgresGroupCommit(store)
        ingest = IngestFeed(group.unit_of_work, FORMATS, FakeClock(), UuidIds())
        failures: dict[str, BaseException] = {}

        def hold_the_turn(uow: UnitOfWork, ingested: Ingested) -> None:
            hold_until_queued(group, 1)

        def cut_the_connection(uow: UnitOfWork, ingested: Ingested) -> None:
            # The server ends the batch's session (a restart, an operator): this feed's next
            # statement fails, and the shared transaction, s0's writes in it, is gone.
            with store.connection() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (group.conn.info.backend_pid,))

        def send(partner: str, steps: list[IngestStep]) -> None:
            try:
                ingest(feed(partner), steps=steps)
            except BaseException as error:
                failures[partner] = error

        in_one_batch(
            group,
            functools.partial(send, "s0", [hold_the_turn]),
            functools.partial(send, "s1", [cut_the_connection]),
        )

        # Both answered "retry" (503), neither as stored; nothing of either was kept.
        assert isinstance(failures["s0"], BatchNotDurable)
        assert isinstance(failures["s1"], StoreUnreachableError)
        assert (stored(store, "s0"), stored(store, "s1"), group.batches) == (0, 0, 0)
        assert ingest(feed("s0")).applied and stored(store, "s0") == ITEMS and group.batches == 1
        assert VerifyAuditChain(store.audit_log)().ok
        group.close()


def test_a_thread_cannot_open_a_second_grouped_unit_of_work_inside_its_first() -> None:
    with postgres_store() as store:
        group = PostgresGroupCommit(store)
        with group.unit_of_work() as outer:
            with pytest.raises(RuntimeError, match="already has a unit of work open"):
                group.unit_of_work().__enter__()
            outer.rollback()
        with group.unit_of_work() as uow:  # the turn was given back
            uow.commit()
        group.close()
