"""Migrations, for every SQL store: numbered, recorded once, refusing a newer schema,
safe under concurrent starters, and upgrading a first-release database without loss (M2)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from support.sql_stores import SqlKit, SqlStore

from partner_ingest.adapters_out.sqlite.migrate import available_migrations as sqlite_migrations
from partner_ingest.adapters_out.store_errors import SchemaTooNewError
from partner_ingest.domain.model import AuditAction, AuditQuery, JobStatus, Lease, Partner
from partner_ingest.domain.model.jsontext import dumps
from partner_ingest.domain.model.report import FeedStatus, IngestCounts, IngestReport
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain

T0 = "2026-01-01T00:00:00.000000Z"  # a literal both dialects read as a UTC time
REPORT = IngestReport("f1", "acme", "json", 1, FeedStatus.ACCEPTED, IngestCounts(1, 1, 0, 0, 0))

# What the first release wrote, through its own tables, in SQL both dialects accept.
FIRST_RELEASE_DATA = (
    f"INSERT INTO partner (id, name, created_at, policy) VALUES ('acme', 'Acme', '{T0}', '{{}}')",
    "INSERT INTO product (partner_id, sku, name, price, currency, quantity, brand, created_at, updated_at)"
    f" VALUES ('acme', 'A-1', 'Mug', '9.50', 'EUR', 3, 'Acme', '{T0}', '{T0}')",
    "INSERT INTO partner_feed_imports (id, partner_id, format, version, content_hash, status, received,"
    " created, updated, unchanged, rejected, report, received_at, completed_at) VALUES"
    f" ('f1', 'acme', 'json', 1, 'c1', 'applied', 1, 1, 0, 0, 0, '{dumps(REPORT.to_json())}', '{T0}', '{T0}')",
    "INSERT INTO partner_ingest_jobs (id, partner_id, format, version, status, created_at, available_at,"
    f" content_hash, body_bytes, max_attempts) VALUES ('j1', 'acme', 'json', 1, 'queued', '{T0}', '{T0}', 'c2', 2, 5)",
    f"INSERT INTO partner_ingest_audit (at, action, outcome, actor) VALUES ('{T0}', 'auth.failed', 'denied', 'anonymous')",
)
FIRST_RELEASE_TABLES = (
    "partner",
    "product",
    "partner_feed_imports",
    "partner_ingest_jobs",
    "partner_ingest_audit",
)
# A table a later migration re-creates a column of is compared on the first release's columns; on
# the others, columns added later come at the end, empty for the rows the first release wrote.
FIRST_RELEASE_COLUMNS = {
    "partner_ingest_jobs": "id, partner_id, format, version, status, created_at, available_at, content_hash,"
    " body_bytes, attempts, max_attempts, policy, idempotency_key, lease_token, lease_expires_at, last_error,"
    " report, finished_at, source",
    "partner_feed_imports": "id, partner_id, format, version, content_hash, status, received, created, updated,"
    " unchanged, rejected, report, idempotency_key, job_id, received_at, completed_at",
}


def first_release_rows(kit: SqlKit, table: str) -> list[tuple[object, ...]]:
    return kit.query(f"SELECT {FIRST_RELEASE_COLUMNS.get(table, '*')} FROM {table} ORDER BY 1")


def test_every_migration_is_applied_once_and_recorded(kit: SqlKit) -> None:
    applied = kit.migrate_to()
    assert applied == list(range(1, kit.newest + 1)) and kit.newest >= 2
    assert kit.migrate_to() == []  # idempotent
    rows = kit.query("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [version for version, _ in rows] == applied
    assert rows[0][1] == "initial"


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(kit: SqlKit) -> None:
    kit.migrate_to()
    kit.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', '2030-01-01T00:00:00.000000Z')"
    )
    with pytest.raises(SchemaTooNewError, match="version 999, newer than this release knows"):
        kit.open_store()
    assert kit.query("SELECT count(*) FROM schema_migrations WHERE version = 999") == [(1,)]


def test_upgrading_a_first_migration_database_with_data_loses_nothing(kit: SqlKit) -> None:
    assert kit.migrate_to(1) == [1]
    kit.execute(*FIRST_RELEASE_DATA)
    assert "partner_schedules" not in kit.tables()
    before = {table: first_release_rows(kit, table) for table in FIRST_RELEASE_TABLES}

    store = kit.open_store()  # migrates on open
    try:
        assert store.schema_version() == kit.newest > 1
        # Every row of every first-release table is still there, value for value (a later
        # migration may add columns, at the end, that are empty for the rows it found, except
        # the audit chain of 0007, which it computes for them) ...
        after = {table: first_release_rows(kit, table) for table in FIRST_RELEASE_TABLES}
        assert {
            table: [row[: len(old)] for row, old in zip(rows, before[table], strict=True)]
            for table, rows in after.items()
        } == before
        assert all(
            value is None
            for table, rows in after.items()
            if table != "partner_ingest_audit"
            for row, old in zip(rows, before[table], strict=True)
            for value in row[len(old) :]
        )
        assert VerifyAuditChain(store.audit_log)().entries == len(before["partner_ingest_audit"]) == 1
        # ... and reads back through the repositories as the first release meant it.
        with store.unit_of_work() as uow:
            assert uow.partners.get("acme") == Partner(
                id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)
            )
            mug = uow.products.get("acme", "A-1")
            assert mug is not None and (mug.name, str(mug.price), mug.quantity, mug.brand) == (
                "Mug",
                "9.50",
                3,
                "Acme",
            )
            entry = uow.imports.get("f1")
            assert entry is not None and entry.report == REPORT
            job = uow.jobs.get("j1")
            assert job is not None and job.status is JobStatus.QUEUED and job.body_bytes == 2
            uow.schedules.add(
                Schedule(
                    id="s1",
                    partner_id="acme",
                    next_run_at=datetime(2026, 1, 2, tzinfo=UTC),
                    interval_seconds=60,
                )
            )
            uow.commit()
        [audit] = store.audit_log.query(AuditQuery())
        assert audit.action is AuditAction.AUTH_FAILED and audit.at == datetime(2026, 1, 1, tzinfo=UTC)
    finally:
        store.close()
    assert kit.query("SELECT id FROM partner_schedules") == [("s1",)]


def test_concurrent_starters_migrate_once_and_all_start(kit: SqlKit) -> None:
    starters = 4
    barrier = threading.Barrier(starters)
    opened: list[SqlStore] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            opened.append(kit.open_store())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in opened:
        store.close()
    assert failures == []
    assert len(opened) == starters
    rows = kit.query("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
    assert rows == [(version, 1) for version in range(1, kit.newest + 1)]


def test_the_job_queue_migration_numbers_jobs_by_submission_and_leaves_one_running_per_partner(
    kit: SqlKit,
) -> None:
    """Before it, several jobs of one partner could run at once: all but the oldest go back to the
    queue (their workers' tokens no longer hold), and the claim order is the submission order."""
    version = next(m.version for m in sqlite_migrations() if m.name == "job_queue")
    kit.migrate_to(version - 1)
    kit.execute(
        f"INSERT INTO partner (id, name, created_at, policy) VALUES ('acme', 'Acme', '{T0}', '{{}}')",
        *(
            "INSERT INTO partner_ingest_jobs (id, partner_id, format, version, status, created_at, available_at,"
            " content_hash, body_bytes, max_attempts, attempts, lease_token, lease_expires_at) VALUES"
            f" ('{job_id}', 'acme', 'json', 1, '{status}', '2026-01-01T00:00:0{second}.000000Z', '{T0}', 'c', 2, 5,"
            f" {1 if status == 'running' else 0}, {token}, {expires})"
            for job_id, status, second, token, expires in (
                ("j-late", "running", 3, "'t-late'", "'2030-01-01T00:00:00.000000Z'"),
                ("j-early", "running", 1, "'t-early'", "'2030-01-01T00:00:00.000000Z'"),
                ("j-queued", "queued", 2, "NULL", "NULL"),
            )
        ),
    )
    store = kit.open_store()
    try:
        with store.unit_of_work(read_only=True) as uow:
            early, late = uow.jobs.get("j-early"), uow.jobs.get("j-late")
        assert early is not None and (early.status, early.lease_token) == (JobStatus.RUNNING, "t-early")
        assert late is not None and (late.status, late.attempts, late.lease_token) == (
            JobStatus.QUEUED,
            0,
            None,
        )
        now = datetime(2031, 1, 1, tzinfo=UTC)  # every lease has expired
        claimed = []
        for token in ("a", "b", "c"):
            with store.unit_of_work() as uow:
                job = uow.jobs.claim(now, timedelta(seconds=30), token)
                assert job is not None
                assert uow.jobs.complete(Lease(job.id, token, now), REPORT, now)
                uow.commit()
            claimed.append(job.id)
        assert claimed == ["j-early", "j-queued", "j-late"]
    finally:
        store.close()
