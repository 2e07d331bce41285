"""Real `partner-ingest worker` processes on one SQLite file: killed mid-feed, the job is
finished by another worker exactly as an uninterrupted run would; 1,000 jobs over three
workers are each completed exactly once."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from partner_ingest.adapters_in.bootstrap import Application, build
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import Job, JobStatus, Partner
from partner_ingest.domain.use_cases import FeedSubmission


def feed(items: int, *, first: int = 0) -> bytes:
    return b"".join(
        (
            f'{{"sku": "SKU-{n:08d}", "name": "Item {n}", "price": {n % 997}.50, '
            f'"currency": "EUR", "quantity": {n % 13}, "gtin": "4006381333931"}}\n'
        ).encode()
        for n in range(first, first + items)
    )


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_INGEST_")}
    env.update(
        PARTNER_INGEST_DATABASE_URL=f"sqlite:///{db}",
        PARTNER_INGEST_WORKER_POLL_SECONDS="0.05",
        PARTNER_INGEST_LOG_LEVEL="WARNING",
        **{f"PARTNER_INGEST_{k.upper()}": v for k, v in extra.items()},
    )
    return env


def start_worker(db: Path, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "partner_ingest.adapters_in.cli.main", "worker"],
        env=env_for(db, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def app_for(db: Path) -> Application:
    app = build(Settings(database_url=f"sqlite:///{db}"))
    with app.uow() as uow:
        if uow.partners.get("acme") is None:
            uow.partners.add(Partner(id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
            uow.commit()
    return app


def submit(app: Application, body: bytes) -> Job:
    return app.submit_job(
        FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="jsonl", version=1),
        body_bytes=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def product_table(app: Application) -> list[tuple[object, ...]]:
    conn = app_store_connection(app)
    rows: list[tuple[object, ...]] = conn.execute(
        "SELECT partner_id, sku, name, price, currency, quantity, gtin FROM product ORDER BY partner_id, sku"
    ).fetchall()
    return rows


def app_store_connection(app: Application) -> sqlite3.Connection:
    # The SQLite store behind the application's unit of work (test-only peek at the table).
    store = getattr(app.uow, "__self__", None)
    assert isinstance(store, SqliteStore), f"app.uow should be a SqliteStore's unit_of_work, got {app.uow!r}"
    return store.connection()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    if proc.stderr:
        proc.stderr.close()


@pytest.mark.slow
def test_a_worker_killed_mid_feed_leaves_nothing_and_another_finishes_it_as_if_uninterrupted(
    tmp_path: Path,
) -> None:
    body = feed(250_000)
    reference = app_for(tmp_path / "reference.db")
    reference.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="jsonl", version=1))
    expected = product_table(reference)
    reference.close()
    assert len(expected) == 250_000

    db = tmp_path / "jobs.db"
    app = app_for(db)
    job = submit(app, body)
    first = start_worker(db, job_lease_seconds="2")
    wait_for(lambda: app.jobs.get(job.id, partner_id=None).status is JobStatus.RUNNING, 30, "the first claim")
    time.sleep(1.0)  # well inside the feed: it takes several seconds
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    if first.stderr:
        first.stderr.close()

    killed = app.jobs.get(job.id, partner_id=None)
    assert killed.status is JobStatus.RUNNING and killed.attempts == 1
    with app.uow() as uow:
        assert uow.products.count("acme") == 0
        assert uow.imports.recent() == []

    second = start_worker(db, job_lease_seconds="2")
    try:
        wait_for(
            lambda: app.jobs.get(job.id, partner_id=None).status is JobStatus.SUCCEEDED, 120, "the retry"
        )
    finally:
        stop(second)
    done = app.jobs.get(job.id, partner_id=None)
    assert done.attempts == 2 and done.report is not None and done.report.counts.created == 250_000
    assert product_table(app) == expected
    with app.uow() as uow:
        [entry] = uow.imports.recent()
    assert entry.job_id == job.id
    app.close()


@pytest.mark.slow
def test_a_thousand_jobs_over_three_worker_processes_are_each_completed_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    app = app_for(db)
    jobs = [submit(app, feed(2, first=2 * n)) for n in range(1000)]
    workers = [start_worker(db) for _ in range(3)]
    try:
        wait_for(lambda: app.jobs.queue_depth()["succeeded"] == 1000, 300, "1000 succeeded jobs")
    finally:
        for proc in workers:
            stop(proc)
    for proc in workers:
        assert proc.returncode == 0
    conn = app_store_connection(app)
    per_job = dict(
        conn.execute("SELECT job_id, count(*) FROM partner_feed_imports GROUP BY job_id").fetchall()
    )
    assert per_job == {job.id: 1 for job in jobs}
    assert conn.execute("SELECT count(*), max(attempts) FROM partner_ingest_jobs").fetchone() == (1000, 1)
    with app.uow() as uow:
        assert uow.products.count("acme") == 2000
    app.close()
