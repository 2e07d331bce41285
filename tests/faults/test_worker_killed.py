"""Fault: a worker SIGKILLed while it commits a job (ADR 0028).

PostgreSQL: the test holds the audit chain's lock, which a job's unit of work
takes as it commits (the audit entries are written just before COMMIT), so the
worker is caught exactly inside its commit: its backend waits on that lock with
the whole feed written but not committed. The worker is SIGKILLed there, the
lock released, and its transaction dies with its connection. Nothing of the
feed is visible; a second worker claims the job once the lease is over and
applies it: every product once, one ledger entry, the audit chain intact.

SQLite: the same worker killed in the middle of a large feed's transaction
(SQLite's commit itself is too short to aim at from outside); a new worker takes
the job after its lease and applies it once.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
from pathlib import Path

import psycopg
from support.postgres import postgres_database, postgres_url
from support.sqlite_wal import WalWatch
from support.workers import app_for, feed, start, stop, submit, wait_for

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_out.postgres.connection import schema_from_url
from partner_ingest.domain.model import JobStatus

LEASE = "0.15"
"""The second worker takes the job over this soon after the kill. Only one worker is alive at a
time, so none takes the job from a live worker whose heartbeat is late."""


def job_status(app: Application, job_id: str) -> tuple[JobStatus, int]:
    with app.uow(read_only=True) as uow:
        job = uow.jobs.get(job_id)
    assert job is not None
    return job.status, job.attempts


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr:
        proc.stderr.close()


def applied_once(app: Application, job_id: str, items: int) -> None:
    status, attempts = job_status(app, job_id)
    assert (status, attempts) == (JobStatus.SUCCEEDED, 2)  # the killed attempt, then the one that applied
    with app.uow(read_only=True) as uow:
        assert uow.products.count("acme") == items
        imports = uow.imports.recent("acme")
        assert [(entry.job_id, entry.report.counts.created) for entry in imports] == [(job_id, items)]
    assert app.verify_audit().ok


def test_a_worker_killed_inside_its_commit_leaves_nothing_and_the_job_is_applied_once() -> None:
    with postgres_database() as url:
        schema = schema_from_url(url)
        app = app_for(url)
        items = 5_000
        try:
            job = submit(app, feed(items))
            name = f"fault-commit-{secrets.token_hex(4)}"
            with (
                psycopg.connect(postgres_url()) as holder,
                psycopg.connect(
                    postgres_url(), autocommit=True
                ) as watcher,  # activity is a snapshot per transaction
            ):
                holder.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('partner_ingest_audit_chain.' || %s, 0))",
                    (schema,),
                )
                first = start(f"{url}&application_name={name}", "worker", job_lease_seconds=LEASE)
                try:

                    def committing() -> bool:
                        rows = watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                            (name,),
                        ).fetchall()
                        return bool(rows[0][0])

                    wait_for(committing, 120, "the worker to reach its commit")
                    # The claim had committed (the job runs under the worker's lease): the wait is the feed's commit.
                    assert job_status(app, job.id) == (JobStatus.RUNNING, 1)
                    kill(first)
                finally:
                    if first.poll() is None:
                        kill(first)
                holder.rollback()  # the lock goes; the dead worker's backend finds no client and rolls back

                def gone() -> bool:
                    rows = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
                    ).fetchall()
                    return bool(rows[0][0] == 0)

                wait_for(gone, 30, "the killed worker's backends to end")
            with app.uow(read_only=True) as uow:
                assert uow.products.count("acme") == 0  # nothing half-written
                assert uow.imports.recent("acme") == []

            second = start(url, "worker", job_lease_seconds=LEASE)
            try:
                wait_for(
                    lambda: job_status(app, job.id)[0] is JobStatus.SUCCEEDED, 120, "the job to be applied"
                )
            finally:
                stop(second)
            applied_once(app, job.id, items)
        finally:
            app.close()


def test_a_sqlite_worker_killed_mid_feed_is_replaced_and_the_job_applied_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    app = app_for(url)
    items = 60_000
    try:
        job = submit(app, feed(items))
        wal = WalWatch(tmp_path / "faults.db")
        first = start(url, "worker", job_lease_seconds=LEASE, parser_processes="0")
        try:
            wait_for(
                lambda: job_status(app, job.id)[0] is JobStatus.RUNNING, 60, "the worker to claim the job"
            )
            # Pages the feed's open transaction spilled into the WAL (its size alone also counts
            # the submitted body's frames).
            wait_for(
                lambda: wal.uncommitted_frames() > 0,
                60,
                "the feed to be written",
                every=0.01,
            )
            assert job_status(app, job.id)[0] is JobStatus.RUNNING, "the feed finished before the fault"
        finally:
            kill(first)
        with app.uow(read_only=True) as uow:
            assert uow.products.count("acme") == 0

        second = start(url, "worker", job_lease_seconds=LEASE, parser_processes="0")
        try:
            wait_for(lambda: job_status(app, job.id)[0] is JobStatus.SUCCEEDED, 180, "the job to be applied")
        finally:
            stop(second)
        applied_once(app, job.id, items)
    finally:
        app.close()
