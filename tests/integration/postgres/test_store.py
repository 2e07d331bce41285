"""The PostgreSQL store beyond the contract: start-up and pool errors, SKIP LOCKED claims that
never wait, counts under concurrent writers, session tables that survive failures, chunked
bodies, the audit trigger's reach, and text PostgreSQL cannot hold."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from support.feeds import wait_for
from support.postgres import postgres_url, with_options

from partner_ingest.adapters_out.postgres.jobs import CHUNK_BYTES
from partner_ingest.adapters_out.postgres.products import STAGE
from partner_ingest.adapters_out.postgres.store import PostgresStore
from partner_ingest.adapters_out.store_errors import StoreBusyError, StoreUnreachableError
from partner_ingest.domain.model import (
    AuditAction,
    AuditEntry,
    Job,
    JobStatus,
    Lease,
    Outcome,
    Partner,
    Product,
)
from partner_ingest.domain.model.product import PRODUCT_COLUMNS
from partner_ingest.ports import UpsertCounts

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def product(sku: str, name: str = "Mug") -> Product:
    return Product(partner_id="acme", sku=sku, name=name, price=Decimal("9.50"), currency="EUR", quantity=3)


def add_job(
    store: PostgresStore, job_id: str, body: bytes, *, at: datetime = T0, partner: str = "acme"
) -> None:
    with store.unit_of_work() as uow:
        job = Job(job_id, partner, "json", 2, JobStatus.QUEUED, at, at, "h" + job_id, len(body))
        uow.jobs.add(job, io.BytesIO(body))
        uow.commit()


def test_an_unreachable_server_is_named_in_one_line_without_the_password() -> None:
    with pytest.raises(StoreUnreachableError) as raised:
        PostgresStore("postgresql://ingest:s3cret@127.0.0.1:1/catalog", pool_timeout=2)
    message = str(raised.value)
    assert "127.0.0.1:1/catalog" in message and "Connection refused" in message
    assert "s3cret" not in message and "\n" not in message


def test_a_pool_with_no_free_connection_answers_store_busy(pg: PostgresStore) -> None:
    small = PostgresStore(pg.url, schema=pg.schema, pool_size=1, pool_timeout=0.3)
    try:
        with small.unit_of_work(), pytest.raises(StoreBusyError, match="pool of 1"):
            small.unit_of_work().__enter__()
    finally:
        small.close()


def test_a_connection_lost_mid_unit_of_work_is_store_unreachable_and_nothing_is_written(
    pg: PostgresStore,
) -> None:
    with (  # noqa: PT012 - the error leaves the unit of work, not one statement
        pytest.raises(StoreUnreachableError, match="lost the connection") as raised,
        pg.unit_of_work() as uow,
    ):
        uow.products.upsert([product("lost-1").to_row()])
        pid = uow._open().info.backend_pid
        with psycopg.connect(pg.url) as admin:  # an operator restarting the server, say
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        uow.products.upsert([product("lost-2").to_row()])
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    with pg.unit_of_work(read_only=True) as uow:  # the pool hands out a working connection again
        assert uow.products.get("acme", "lost-1") is None


def test_a_claim_never_waits_for_a_partner_another_worker_is_claiming(pg: PostgresStore) -> None:
    with pg.unit_of_work() as uow:
        uow.partners.add(Partner(id="globex", name="Globex", created_at=T0))
        uow.commit()
    add_job(pg, "a0", b"{}", at=T0)
    add_job(pg, "a1", b"{}", at=T0)
    add_job(pg, "g0", b"{}", at=T0 + timedelta(seconds=1), partner="globex")
    got: list[str | None] = []
    with pg.unit_of_work() as first:
        mine = first.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=30), "a")
        assert mine is not None and mine.id == "a0"  # acme's queue row locked, not committed yet

        def other_worker(token: str) -> None:
            with pg.unit_of_work() as uow:
                job = uow.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=30), token)
                uow.commit()
            got.append(None if job is None else job.id)

        for token in ("b", "c"):  # the first skips acme and takes globex's job; then nothing is left
            thread = threading.Thread(target=other_worker, args=(token,))
            thread.start()
            thread.join(timeout=10)
            assert not thread.is_alive(), "a second claim waited for the first worker's lock"
        first.commit()
    other_worker("d")  # acme's a0 runs now: a1 waits for it
    assert got == ["g0", None, None]


def test_concurrent_writers_of_the_same_new_product_are_counted_by_the_database(pg: PostgresStore) -> None:
    counts: list[UpsertCounts] = []
    name = f"second-writer-{pg.schema}"  # the second writer's sessions, found among every test's
    second = PostgresStore(f"{pg.url}&application_name={name}", schema=pg.schema, pool_size=1)
    try:
        with pg.unit_of_work() as first, psycopg.connect(postgres_url(), autocommit=True) as watcher:
            counts.append(first.products.upsert([product("A").to_row()]))

            def second_writer() -> None:
                with second.unit_of_work() as uow:
                    counts.append(uow.products.upsert([product("A").to_row(), product("B").to_row()]))
                    uow.commit()

            def waiting_on_a_lock() -> bool:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                    (name,),
                ).fetchone()
                return row is not None and row[0] > 0

            thread = threading.Thread(target=second_writer)
            thread.start()
            wait_for(waiting_on_a_lock, 10, "the second writer to wait on the first one's uncommitted row")
            assert thread.is_alive()
            first.commit()
            thread.join(timeout=10)
    finally:
        second.close()
    assert counts == [(1, 0, 0), (1, 0, 1)]  # A created once; the second found it, unchanged
    with pg.unit_of_work(read_only=True) as uow:
        assert uow.products.count("acme") == 2


def test_two_feeds_deadlocking_on_the_same_products_make_exactly_one_retry(pg: PostgresStore) -> None:
    with pg.unit_of_work() as uow:
        uow.products.upsert([product("X").to_row(), product("Y").to_row()])
        uow.commit()
    halfway = threading.Barrier(2)
    outcomes: list[str] = []
    # The feeds' sessions look for the deadlock after 50 ms, not the server's default second: the
    # same deadlock is found, without holding the worker a second for it (a superuser's option,
    # so this test's, not every test session's).
    feeds = PostgresStore(with_options(pg.url, "-cdeadlock_timeout=50ms"), schema=pg.schema, pool_size=2)

    def feed(first: str, second: str, name: str) -> None:
        try:
            with feeds.unit_of_work() as uow:
                uow.products.upsert([product(first, name).to_row()])
                halfway.wait()  # each feed now holds the row the other one needs next
                uow.products.upsert([product(second, name).to_row()])
                uow.commit()
            outcomes.append("committed")
        except StoreBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=feed, args=args) for args in (("X", "Y", "a"), ("Y", "X", "b"))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        feeds.close()
    assert sorted(outcomes) == ["busy", "committed"]
    with pg.unit_of_work(read_only=True) as uow:
        names = {p.name for p in uow.products.page("acme")}
    assert names in ({"a"}, {"b"})  # the whole of one feed, none of the other


def test_a_failed_batch_leaves_the_session_tables_clean_for_the_next_unit_of_work(pg: PostgresStore) -> None:
    one = PostgresStore(pg.url, schema=pg.schema, pool_size=1)  # every unit of work on the same session
    try:
        bad = (*product("X").to_row()[:2], None, *product("X").to_row()[3:])  # name is NOT NULL

        def failing_feed() -> None:
            with one.unit_of_work() as uow:
                assert uow.feed_skus.repeated(["X", "Y"]) == []
                uow.products.upsert([product("Y").to_row(), bad])  # type: ignore[list-item]

        with pytest.raises(psycopg.errors.NotNullViolation):
            failing_feed()
        with one.unit_of_work() as uow:
            assert uow.feed_skus.repeated(["X", "Y"]) == []  # a new feed: nothing seen yet
            assert uow.products.upsert([product("Y").to_row()]) == (1, 0, 0)
            uow.commit()
        with one.unit_of_work() as uow:
            assert uow.products.upsert([product("Y", "Renamed").to_row(), product("Z").to_row()]) == (1, 1, 0)
            uow.commit()
    finally:
        one.close()


def test_a_committed_feed_leaves_nothing_in_the_session_tables_for_the_next_one(pg: PostgresStore) -> None:
    one = PostgresStore(pg.url, schema=pg.schema, pool_size=1)  # every unit of work on the same session
    try:
        with one.unit_of_work() as uow:
            assert uow.feed_skus.repeated(["X", "Y"]) == []
            assert uow.products.upsert([product("X").to_row(), product("Y").to_row()]) == (2, 0, 0)
            assert uow.feed_skus.repeated(["Y", "Z"]) == [0]  # Y: named earlier in this feed
            uow.commit()
        with one.unit_of_work() as uow:
            assert uow.feed_skus.unseen("acme") == ["X", "Y"]  # this feed has named nothing yet
            assert uow.feed_skus.repeated(["X", "Y"]) == []  # what the last feed named is forgotten
            assert uow.feed_skus.unseen("acme") == []
            uow.commit()
    finally:
        one.close()


def test_the_copy_path_records_each_batchs_import_on_every_row_it_writes(pg: PostgresStore) -> None:
    first = [product(f"S-{n:04d}").to_row() for n in range(1500)]
    with pg.unit_of_work() as uow:
        assert uow.products.upsert(first[:1000], feed_id="f1") == (1000, 0, 0)
        assert uow.products.upsert(first[1000:], feed_id="f1") == (500, 0, 0)
        uow.commit()
    # The second import changes every third product and sends the rest unchanged.
    second = [product(f"S-{n:04d}", "Renamed" if n % 3 == 0 else "Mug").to_row() for n in range(1500)]
    with pg.unit_of_work() as uow:
        assert uow.products.upsert(second, feed_id="f2") == (0, 500, 1000)
        uow.commit()
    with pg.connection() as conn:
        written = dict(conn.execute("SELECT feed_id, count(*) FROM product GROUP BY feed_id").fetchall())
        # The staging table the rows are copied into holds the product values alone.
        staged = [
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
                (STAGE,),
            )
        ]
    assert written == {"f1": 1000, "f2": 500}
    assert staged == list(PRODUCT_COLUMNS)


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 2 * CHUNK_BYTES, 2 * CHUNK_BYTES + 7])
def test_bodies_of_any_size_stream_back_whole(pg: PostgresStore, size: int) -> None:
    body = (bytes(range(251)) * (size // 251 + 1))[:size]  # byte n is n % 251
    add_job(pg, "big", body)
    with pg.unit_of_work(read_only=True) as uow:
        stream = uow.jobs.open_body("big")
        read = b"".join(iter(lambda: stream.read(300_000), b""))
        stream.close()
    assert read == body
    with pg.connection() as conn:
        chunks = conn.execute(
            "SELECT count(*) FROM partner_ingest_job_bodies WHERE job_id = 'big'"
        ).fetchone()
    assert chunks == (max(1, -(-size // CHUNK_BYTES)),)


def test_a_body_longer_than_declared_is_refused_and_nothing_is_stored(pg: PostgresStore) -> None:
    job = Job("j", "acme", "json", 2, JobStatus.QUEUED, T0, T0, "h", 3)

    def submit() -> None:
        with pg.unit_of_work() as uow:
            uow.jobs.add(job, io.BytesIO(b"{}{}"))
            uow.commit()

    with pytest.raises(ValueError, match="longer than the declared 3 bytes"):
        submit()
    with pg.unit_of_work(read_only=True) as uow:
        assert uow.jobs.get("j") is None


def test_a_failure_message_postgresql_text_cannot_hold_is_still_recorded(pg: PostgresStore) -> None:
    add_job(pg, "j", b"{}")
    with pg.unit_of_work() as uow:
        assert uow.jobs.claim(T0, timedelta(seconds=30), "t") is not None
        assert uow.jobs.fail(Lease("j", "t", T0), "ParseError: bad \x00 byte \ud800 here", None, T0)
        uow.commit()
    with pg.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get("j")
    assert job is not None and job.status is JobStatus.DEAD
    assert job.last_error == "ParseError: bad \ufffd byte ? here"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM partner_ingest_audit WHERE false",
        "UPDATE partner_ingest_audit SET actor = actor WHERE false",
        "TRUNCATE partner_ingest_audit",
    ],
)
def test_the_audit_trigger_refuses_even_statements_that_match_no_row(
    pg: PostgresStore, statement: str
) -> None:
    pg.audit_log.append(AuditEntry(T0, AuditAction.AUTH_FAILED, Outcome.DENIED, "anonymous"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"), pg.connection() as conn:
        conn.execute(statement)
    with pg.connection() as conn:
        assert conn.execute("SELECT count(*) FROM partner_ingest_audit").fetchone() == (1,)


def test_every_audit_filter_leads_an_index(pg: PostgresStore) -> None:
    with pg.connection() as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index AS i JOIN pg_attribute AS a"
            " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
            " WHERE i.indrelid = 'partner_ingest_audit'::regclass"
        ).fetchall()
    assert {"at", "partner_id", "action", "outcome"} <= {name for (name,) in rows}


def test_each_store_lives_in_its_own_schema(pg: PostgresStore) -> None:
    other = PostgresStore.for_tests(postgres_url())
    try:
        assert other.schema != pg.schema
        with other.unit_of_work(read_only=True) as uow:
            assert uow.partners.get("acme") is None
    finally:
        other.drop_schema_and_close()
    with psycopg.connect(postgres_url()) as conn:
        gone = conn.execute("SELECT to_regnamespace(%s)", (other.schema,)).fetchone()
    assert gone == (None,)
