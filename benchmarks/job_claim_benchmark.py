"""What a job claim costs as a partner's backlog grows (ADR 0025): SQLite, and PostgreSQL when configured.

A claim picks the least recently served partner whose next job is claimable:
it looks at every partner's queue row (two index lookups each), never at every
job, so a deep backlog should not make it slower. Each run fills a fresh store
with 50 partners of 20 queued jobs and one partner with BACKLOG queued jobs
(rows written by SQL, no bodies: a claim never reads them), then times
claim + complete, each in its own unit of work, as a worker does. The baseline
is the same measurement with a backlog of 1,000, in the same run.

    .venv/bin/python benchmarks/job_claim_benchmark.py [--backlog 100000] [--claims 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from partner_ingest.adapters_out.sqlite.connection import timestamp
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import FeedStatus, IngestCounts, IngestReport, Lease, Partner
from partner_ingest.ports import UnitOfWorkFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
SMALL = 1_000
PARTNERS = 50
PER_PARTNER = 20


def claim_times(uow: UnitOfWorkFactory, claims: int) -> list[float]:
    """Seconds of each claim (its unit of work, committed); every claimed job is completed at once."""
    times = []
    for n in range(claims):
        token = f"bench-{n}"
        started = time.perf_counter()
        with uow() as work:
            job = work.jobs.claim(NOW, timedelta(minutes=5), token)
            work.commit()
        times.append(time.perf_counter() - started)
        assert job is not None, "the queue ran dry"
        report = IngestReport(
            job.id, job.partner_id, "json", 2, FeedStatus.ACCEPTED, IngestCounts(0, 0, 0, 0, 0)
        )
        with uow() as work:
            assert work.jobs.complete(Lease(job.id, token, NOW), report, NOW)
            work.commit()
    return times


def add_partners(uow: UnitOfWorkFactory) -> list[str]:
    ids = ["deep", *(f"p{n:02d}" for n in range(PARTNERS))]
    with uow() as work:
        for pid in ids:
            work.partners.add(Partner(id=pid, name=pid, created_at=T0))
        work.commit()
    return ids


def job_rows(backlog: int) -> Iterator[tuple[str, str, int]]:
    """(id, partner, seq) of every job: the deep partner's backlog first, then the others'."""
    seq = 0
    for n in range(backlog):
        seq += 1
        yield f"deep-{n:07d}", "deep", seq
    for p in range(PARTNERS):
        for n in range(PER_PARTNER):
            seq += 1
            yield f"p{p:02d}-{n:03d}", f"p{p:02d}", seq


@contextmanager
def sqlite_queue(backlog: int) -> Iterator[UnitOfWorkFactory]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.db")
        try:
            partners = add_partners(store.unit_of_work)
            at = timestamp(T0)
            conn = store.connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO partner_ingest_jobs (id, partner_id, format, version, status, created_at, available_at,"
                " content_hash, body_bytes, max_attempts, seq) VALUES (?, ?, 'json', 2, 'queued', ?, ?, 'h', 2, 5, ?)",
                ((job_id, pid, at, at, seq) for job_id, pid, seq in job_rows(backlog)),
            )
            conn.executemany(
                "INSERT INTO partner_ingest_job_queues (partner_id) VALUES (?)", ((pid,) for pid in partners)
            )
            conn.execute("COMMIT")
            conn.execute("ANALYZE")
            yield store.unit_of_work
        finally:
            store.close()


@contextmanager
def postgres_queue(url: str, backlog: int) -> Iterator[UnitOfWorkFactory]:
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    store = PostgresStore.for_tests(url)
    try:
        partners = add_partners(store.unit_of_work)
        with store.connection() as conn:
            with conn.cursor().copy(
                "COPY partner_ingest_jobs (id, partner_id, format, version, status, created_at, available_at,"
                " content_hash, body_bytes, max_attempts, seq) FROM STDIN"
            ) as copy:
                for job_id, pid, seq in job_rows(backlog):
                    copy.write_row((job_id, pid, "json", 2, "queued", T0, T0, "h", 2, 5, seq))
            for pid in partners:
                conn.execute("INSERT INTO partner_ingest_job_queues (partner_id) VALUES (%s)", (pid,))
        with store.connection() as conn:
            conn.autocommit = True
            conn.execute("ANALYZE")
        yield store.unit_of_work
    finally:
        store.drop_schema_and_close()


def measure(
    name: str, queue: Callable[[int], AbstractContextManager[UnitOfWorkFactory]], backlog: int, claims: int
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    baseline = 0.0
    for size in (SMALL, backlog):
        with queue(size) as uow:
            claim_times(uow, 20)  # warm the caches and the pool
            times = claim_times(uow, claims)
        median = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[-1]
        baseline = baseline or median
        rows.append(
            (
                name,
                f"{size + PARTNERS * PER_PARTNER:,}",
                f"{size:,}",
                f"{median * 1000:.2f}",
                f"{p95 * 1000:.2f}",
                f"{median / baseline:.2f}",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backlog", type=int, default=100_000, help="the deep partner's queued jobs")
    parser.add_argument("--claims", type=int, default=300, help="claims timed per store and backlog")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PARTNER_INGEST_TEST_POSTGRES_URL"),
        help="also measure PostgreSQL on this server (default: $PARTNER_INGEST_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = [
        ("store", "jobs queued", "deep backlog", "claim median ms", "claim p95 ms", "ratio to 1,000")
    ]
    rows += measure("sqlite", sqlite_queue, args.backlog, args.claims)
    if args.postgres:
        url = args.postgres
        rows += measure("postgres", lambda size: postgres_queue(url, size), args.backlog, args.claims)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
