"""The writer thread on PostgreSQL (ADR 0043, 0044): queued feeds share a transaction, each
isolated, each answered only once durable, the audit chain linear across instances.

Real threads on a real server. The first call of a batch holds the writer until every other
feed is queued behind it, so all of them land in the next batch; what each call's answer sees,
read on a pooled connection of its own, is what a client (or another instance) would see.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from support.feeds import jsonl_feed
from support.postgres import postgres_store
from support.writer_calls import Answers, call

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.postgres.store import PostgresStore
from partner_ingest.adapters_out.postgres.writer import PostgresWriter
from partner_ingest.adapters_out.store_errors import BatchNotDurable, StoreUnreachableError
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import IngestReport, Partner
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.feed_terms import Ingested, IngestStep
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
    """Products of a partner, read on a pooled connection of its own (not the writer's)."""
    with store.connection() as conn:
        row = conn.execute("SELECT count(*) FROM product WHERE partner_id = %s", (partner_id,)).fetchone()
        assert row is not None
        return int(row[0])


def feed(partner: str, items: int = ITEMS, first: int = 0) -> FeedSubmission:
    return FeedSubmission(
        partner_id=partner, body=io.BytesIO(jsonl_feed(items, first=first)), format="jsonl", version=2
    )


class Held:
    """A step that holds the writer inside the first call until the others are queued."""

    def __init__(self) -> None:
        self.running, self.queued = threading.Event(), threading.Event()

    def __call__(self, uow: UnitOfWork, ingested: Ingested) -> None:
        self.hold()

    def hold(self) -> None:
        self.running.set()
        assert self.queued.wait(30)


def in_one_batch(
    writer: PostgresWriter,
    answers: Answers,
    held: Held,
    first: tuple[str, Callable[[], object]],
    *others: tuple[str, Callable[[], object]],
) -> None:
    """Submit `first` (holding the writer with `held`), then `others` behind it; wait for all answers."""
    writer.submit(first[1], answers.done(first[0]))
    assert held.running.wait(30)
    for name, work in others:
        writer.submit(work, answers.done(name))
    held.queued.set()
    assert answers.told.wait(60)


def test_one_batch_keeps_every_neighbour_of_a_failing_feed_and_answers_each_once_durable() -> None:
    with postgres_store() as store:
        partners = [f"p{n}" for n in range(FEEDS)]
        seed(store, *partners)
        writer = PostgresWriter(store)
        ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
        answers, held = Answers(functools.partial(stored, store), FEEDS), Held()

        def refuse(uow: UnitOfWork, ingested: Ingested) -> None:
            # A failed statement: PostgreSQL aborts the shared transaction up to this feed's savepoint.
            writer.conn.execute("SELECT 1 / 0")

        def send(partner: str, steps: list[IngestStep]) -> Callable[[], object]:
            # The same SKUs for every partner: a feed's register of SKUs it has seen must not
            # carry over to the next feed of the shared transaction.
            return lambda: ingest(feed(partner), steps=steps)

        in_one_batch(
            writer,
            answers,
            held,
            ("p0", send("p0", [held])),
            *((p, send(p, [refuse] if p == "p3" else [])) for p in partners[1:]),
        )

        assert set(answers.errors) == {"p3"} and isinstance(
            answers.errors["p3"], psycopg.errors.DivisionByZero
        )
        # p0 committed alone (the others queued while it held the writer), then the rest in one
        # batch: one transaction, one chain lock, one sync.
        assert writer.batches == 2
        assert answers.seen == {p: 0 if p == "p3" else ITEMS for p in partners}
        reports = answers.values.values()
        assert all(isinstance(r, IngestReport) and r.applied and r.counts.created == ITEMS for r in reports)
        with store.unit_of_work(read_only=True) as uow:
            assert all(uow.imports.latest_applied(p) is not None for p in partners if p != "p3")
            # Every kept feed's change records carry a commit number; the failed one has none.
            assert {c.partner_id for c in uow.changes.after(None, limit=100)} == set(partners) - {"p3"}
        verdict = VerifyAuditChain(store.audit_log)()
        assert verdict.ok and verdict.entries >= FEEDS - 1
        writer.close()


def test_two_instances_interleave_their_batches_and_the_audit_chain_stays_linear() -> None:
    with postgres_store() as first_store:
        second_store = PostgresStore(first_store.url, schema=first_store.schema, pool_size=4)
        try:
            seed(first_store, "q")
            writers = [PostgresWriter(first_store), PostgresWriter(second_store)]
            ingests = [IngestFeed(w.unit_of_work, FORMATS, FakeClock(), UuidIds()) for w in writers]
            senders, rounds, ranges = 8, 8, 4
            failures: list[BaseException] = []

            def send(sender: int) -> None:
                for n in range(rounds):
                    # One partner's products, a few ranges of SKUs in a different order for each
                    # sender: two instances' batches write the same rows in different orders, and
                    # would deadlock if both held row locks at once.
                    first = ((sender + n) % ranges) * ITEMS
                    work = functools.partial(ingests[sender % 2], feed("q", first=first))
                    try:
                        call(writers[sender % 2], work)
                    except BaseException as error:
                        failures.append(error)

            threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)

            assert failures == []
            assert all(w.batches for w in writers)
            assert sum(w.batches for w in writers) < senders * rounds  # grouped
            assert stored(first_store, "q") == ranges * ITEMS
            verdict = VerifyAuditChain(first_store.audit_log)()
            assert verdict.ok and verdict.entries >= senders * rounds
            for w in writers:
                w.close()
        finally:
            second_store.close()


def test_two_instances_batches_take_turns_so_writing_the_same_rows_in_other_orders_cannot_deadlock() -> None:
    # Instance A's batch writes range X then range Y, instance B's Y then X. Were both batches
    # open at once, each would wait for rows the other holds until its commit: a deadlock.
    with postgres_store() as first_store:
        second_store = PostgresStore(first_store.url, schema=first_store.schema, pool_size=4)
        try:
            seed(first_store, "q")
            a, b = PostgresWriter(first_store), PostgresWriter(second_store)
            ingest_a, ingest_b = (IngestFeed(w.unit_of_work, FORMATS, FakeClock(), UuidIds()) for w in (a, b))
            x, y = 0, 100
            a_go, a_wrote, b_go = threading.Event(), threading.Event(), threading.Event()
            answers = Answers(functools.partial(stored, first_store), 4)

            def hold(go: threading.Event) -> Callable[[], object]:
                # A call of its own (no unit of work) holding a writer, so that the instance's two
                # feeds queue behind it into one batch.
                return lambda: go.wait(30)

            def first_of_a(uow: UnitOfWork, ingested: Ingested) -> None:
                a_wrote.set()
                assert b_go.wait(30)
                time.sleep(0.3)  # what B's batch can write meanwhile, it writes

            def send(ingest: IngestFeed, first: int, steps: list[IngestStep]) -> Callable[[], object]:
                return lambda: ingest(feed("q", first=first), steps=steps)

            a.submit(hold(a_go), lambda value, error: None)
            b.submit(hold(b_go), lambda value, error: None)
            a.submit(send(ingest_a, x, [first_of_a]), answers.done("a-x"))
            a.submit(send(ingest_a, y, []), answers.done("a-y"))
            b.submit(send(ingest_b, y, []), answers.done("b-y"))
            b.submit(send(ingest_b, x, []), answers.done("b-x"))
            a_go.set()
            assert a_wrote.wait(10)  # A's batch holds range X's rows
            b_go.set()
            assert answers.told.wait(60)

            assert answers.errors == {}
            assert all(isinstance(r, IngestReport) and r.applied for r in answers.values.values())
            assert (a.batches, b.batches) == (1, 1)
            assert VerifyAuditChain(first_store.audit_log)().ok
            a.close()
            b.close()
        finally:
            second_store.close()


def test_a_failed_commit_fails_every_call_of_the_batch_and_the_next_batch_commits() -> None:
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
        writer = PostgresWriter(store)
        ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
        answers, held = Answers(functools.partial(stored, store), 4), Held()

        def spring_the_trap(uow: UnitOfWork, ingested: Ingested) -> None:
            writer.conn.execute("INSERT INTO trap VALUES (1)")

        def send(partner: str) -> Callable[[], object]:
            return lambda: ingest(feed(partner), steps=[spring_the_trap] if partner == "r0" else [])

        in_one_batch(writer, answers, held, ("hold", held.hold), *((p, send(p)) for p in ("r0", "r1", "r2")))

        assert set(answers.errors) == {"r0", "r1", "r2"}
        assert all(isinstance(e, BatchNotDurable) for e in answers.errors.values()), answers.errors
        assert "the commit was refused" in str(answers.errors["r1"])
        assert {p: stored(store, p) for p in ("r0", "r1", "r2")} == {"r0": 0, "r1": 0, "r2": 0}
        assert writer.batches == 0
        report = call(writer, lambda: ingest(feed("r1")))  # the writer goes on: the next batch commits
        assert isinstance(report, IngestReport) and report.applied
        assert stored(store, "r1") == ITEMS and writer.batches == 1
        assert VerifyAuditChain(store.audit_log)().ok
        writer.close()


def test_a_connection_lost_mid_batch_fails_its_calls_as_retryable_and_the_next_batch_reconnects() -> None:
    with postgres_store() as store:
        seed(store, "s0", "s1")
        writer = PostgresWriter(store)
        ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
        answers, held = Answers(functools.partial(stored, store), 3), Held()

        def cut_the_connection(uow: UnitOfWork, ingested: Ingested) -> None:
            # The server ends the batch's session (a restart, an operator): this feed's next
            # statement fails, and the shared transaction, s0's writes in it, is gone.
            with store.connection() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (writer.conn.info.backend_pid,))

        in_one_batch(
            writer,
            answers,
            held,
            ("hold", held.hold),
            ("s0", lambda: ingest(feed("s0"))),
            ("s1", lambda: ingest(feed("s1"), steps=[cut_the_connection])),
        )

        # Both answered "retry" (503), neither as stored; nothing of either was kept.
        assert isinstance(answers.errors["s0"], BatchNotDurable)
        assert isinstance(answers.errors["s1"], StoreUnreachableError)
        assert (answers.seen["s0"], answers.seen["s1"], writer.batches) == (0, 0, 0)
        report = call(writer, lambda: ingest(feed("s0")))  # on a connection of its own
        assert isinstance(report, IngestReport) and report.applied
        assert stored(store, "s0") == ITEMS and writer.batches == 1
        assert VerifyAuditChain(store.audit_log)().ok
        writer.close()
