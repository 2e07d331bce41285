"""Fault: PostgreSQL terminates a worker's backends while it ingests a large job (ADR 0028).

A real `partner-ingest worker` process on a schema of its own takes a large
feed; once the feed's transaction is under way, every backend of the worker
(found by the `application_name` its URL sets) is killed with
`pg_terminate_backend`, as a server restart or failover would. The job must be
retried by the same worker with no operator action and complete: every product
present exactly once, the ledger counting exactly them, and the job's history
showing the lost attempt.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from support.postgres import postgres_database, postgres_url
from support.workers import app_for, feed, start, stop, submit, wait_for

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model import AuditAction, AuditQuery, JobStatus

ITEMS = 20_000
"""Terminated once the feed's progress is recorded (a few thousand items in): the rest of the
feed leaves the test room to terminate it before its commit."""


def job_status(app: Application, job_id: str) -> tuple[JobStatus, int]:
    with app.uow(read_only=True) as uow:
        job = uow.jobs.get(job_id)
    assert job is not None
    return job.status, job.attempts


def backends(application_name: str) -> list[tuple[int, str, Any]]:
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, state, xact_start FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return [(int(pid), str(state), started) for pid, state, started in rows]


def terminate(application_name: str) -> int:
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def in_feed_transaction(application_name: str) -> bool:
    """A backend of the worker is inside a transaction that has run for a while: the feed's."""
    return any(started is not None and state != "idle" for _, state, started in backends(application_name))


def test_backends_terminated_mid_job_the_job_is_retried_and_applied_exactly_once() -> None:
    with postgres_database() as url:
        app = app_for(url)
        try:
            body = feed(ITEMS)
            job = submit(app, body)
            name = f"fault-worker-{secrets.token_hex(4)}"
            # The lost attempt is retried after a tenth of a second, not the default two. The
            # heartbeat records the feed's progress every third of the lease: the evidence the
            # fault waits for. One worker, so a late renewal loses it nothing.
            worker = start(
                f"{url}&application_name={name}",
                "worker",
                job_lease_seconds="0.3",
                job_retry_base_seconds="0.1",
            )
            try:
                wait_for(
                    lambda: job_status(app, job.id)[0] is JobStatus.RUNNING, 60, "the worker to claim the job"
                )
                wait_for(lambda: in_feed_transaction(name), 60, "the feed's transaction to start")
                wait_for(
                    lambda: app.jobs.get(job.id, partner_id=None).items_read > 0, 60, "the feed's progress"
                )
                assert job_status(app, job.id)[0] is JobStatus.RUNNING, "the feed finished before the fault"
                assert terminate(name) >= 1

                wait_for(lambda: job_status(app, job.id)[0] is JobStatus.SUCCEEDED, 180, "the job to succeed")
                assert worker.poll() is None, "the worker must ride out the fault, not exit"
            finally:
                stop(worker)

            status, attempts = job_status(app, job.id)
            assert status is JobStatus.SUCCEEDED and attempts >= 2  # the lost attempt counted, then a retry
            with app.uow(read_only=True) as uow:
                assert uow.products.count("acme") == ITEMS
                [applied] = [entry for entry in uow.imports.recent("acme") if entry.job_id == job.id]
                assert (applied.report.counts.received, applied.report.counts.created) == (ITEMS, ITEMS)
                assert len(uow.imports.recent("acme")) == 1
            failed = app.audit.query(AuditQuery(action=AuditAction.JOB_FAILED))
            failures = [entry for entry in failed if entry.details.get("job_id") == job.id]
            assert failures and "store_unreachable" in str(failures[0].details["error"])
            assert app.verify_audit().ok
        finally:
            app.close()
