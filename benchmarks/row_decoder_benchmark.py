"""What reading columns by name costs on the hot reads (ADR 0040): SQLite, and PostgreSQL when configured.

The shared repositories read a row through a NamedTuple of its columns (`JobRow._make(row)`)
and the engine's dialect, where the engine copies they replaced read `row[0]` .. `row[22]`
with the engine's conversions inlined. The baseline is that positional decoder, written out
here as it was, measured in the same run on the same fetched rows:

- decode: a job row (23 columns, the claim's RETURNING) and a key row (10 columns, read on
  every authenticated request), decoded alone;
- read: the key lookup end to end on one connection (statement, fetch, decode), the shared
  repository against the positional SELECT + decode.

    .venv/bin/python benchmarks/row_decoder_benchmark.py [--rounds 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from partner_ingest.adapters_out.sql.dialect import Dialect, SqlConnection
from partner_ingest.adapters_out.sql.jobs import JOB_SELECT, JobRow, job
from partner_ingest.adapters_out.sql.partners import ApiKeyRow, SqlApiKeyRepository, api_key
from partner_ingest.adapters_out.sqlite.dialect import SQLITE
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import ApiKey, Job, JobStatus, KeyRole, Partner, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_KEY = ", ".join(ApiKeyRow._fields)


def positional_job(row: Sequence[Any], d: Dialect) -> Job:
    """The baseline: the engines' decoder before ADR 0040, by index."""
    return Job(
        id=row[0],
        partner_id=row[1],
        format=row[2],
        version=row[3],
        status=JobStatus(row[4]),
        created_at=d.from_time(row[5]),
        available_at=d.from_time(row[6]),
        content_hash=row[7],
        body_bytes=row[8],
        attempts=row[9],
        max_attempts=row[10],
        policy=None if row[11] is None else ValidationPolicy.from_json(json.loads(row[11])),
        idempotency_key=row[12],
        lease_token=row[13],
        lease_expires_at=d.opt_from_time(row[14]),
        last_error=row[15],
        report=None if row[16] is None else IngestReport.from_json(json.loads(row[16])),
        finished_at=d.opt_from_time(row[17]),
        source=row[18],
        body_purged_at=d.opt_from_time(row[19]),
        items_read=row[20],
        bytes_read=row[21],
        feed_mode=row[22],
    )


def positional_key(row: Sequence[Any], d: Dialect) -> ApiKey:
    """The baseline key decoder, by index."""
    return ApiKey(
        id=row[0],
        role=KeyRole(row[1]),
        partner_id=row[2],
        secret_hash=bytes(row[3]),
        created_at=d.from_time(row[4]),
        expires_at=d.opt_from_time(row[5]),
        revoked_at=d.opt_from_time(row[6]),
        last_used_at=d.opt_from_time(row[7]),
        label=row[8],
        replaces=row[9],
    )


def per_call(baseline: Callable[[], object], named: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Microseconds per call of each, best of five runs taken in turn (so drift hits both alike)."""
    best = [float("inf"), float("inf")]
    for _ in range(5):
        for i, fn in enumerate((baseline, named)):
            started = time.perf_counter()
            for _ in range(rounds):
                fn()
            best[i] = min(best[i], time.perf_counter() - started)
    return best[0] / rounds * 1e6, best[1] / rounds * 1e6


def seed(store: Any) -> None:
    with store.unit_of_work() as work:
        work.partners.add(Partner(id="acme", name="Acme", created_at=T0))
        work.api_keys.add(ApiKey("k1", KeyRole.PARTNER, "acme", b"\x00" * 32, T0, label="bench"))
        work.jobs.add(
            Job(
                id="j1",
                partner_id="acme",
                format="json",
                version=2,
                status=JobStatus.QUEUED,
                created_at=T0,
                available_at=T0,
                content_hash="h",
                body_bytes=2,
                policy=ValidationPolicy(),
                lease_expires_at=T0 + timedelta(minutes=5),
            ),
            io.BytesIO(b"[]"),
        )
        work.commit()


def measure(engine: str, conn: SqlConnection, d: Dialect, rounds: int) -> list[tuple[str, float, float]]:
    job_row = conn.execute(
        d.sql(f"SELECT {JOB_SELECT} FROM partner_ingest_jobs WHERE id = ?"), ("j1",)
    ).fetchone()
    key_row = conn.execute(d.sql(f"SELECT {_KEY} FROM partner_api_keys WHERE id = ?"), ("k1",)).fetchone()
    assert job(JobRow._make(job_row), d) == positional_job(job_row, d)
    assert api_key(ApiKeyRow._make(key_row), d) == positional_key(key_row, d)
    key_sql = d.sql(f"SELECT {_KEY} FROM partner_api_keys WHERE id = ?")

    def positional_read() -> ApiKey:
        return positional_key(conn.execute(key_sql, ("k1",)).fetchone(), d)

    def shared_read() -> ApiKey | None:
        return SqlApiKeyRepository(conn, d).get("k1")

    return [
        (
            f"{engine}: decode a job row",
            *per_call(lambda: positional_job(job_row, d), lambda: job(JobRow._make(job_row), d), rounds),
        ),
        (
            f"{engine}: decode a key row",
            *per_call(
                lambda: positional_key(key_row, d), lambda: api_key(ApiKeyRow._make(key_row), d), rounds
            ),
        ),
        (f"{engine}: key lookup (SELECT + decode)", *per_call(positional_read, shared_read, rounds // 4)),
    ]


@contextmanager
def sqlite_conn() -> Iterator[SqlConnection]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.db")
        try:
            seed(store)
            yield store.connection()
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PARTNER_INGEST_TEST_POSTGRES_URL"),
        help="also measure PostgreSQL on this server (default: $PARTNER_INGEST_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    rows = []
    with sqlite_conn() as conn:
        rows += measure("sqlite", conn, SQLITE, args.rounds)
    if args.postgres:
        from partner_ingest.adapters_out.postgres.dialect import POSTGRES
        from partner_ingest.adapters_out.postgres.store import PostgresStore

        store = PostgresStore.for_tests(args.postgres)
        try:
            seed(store)
            with store.connection() as pg:
                rows += measure("postgres", pg, POSTGRES, args.rounds)
        finally:
            store.drop_schema_and_close()
    print(f"{'measure':<40} {'by index µs':>12} {'by name µs':>12} {'ratio':>7}")
    for name, baseline, named in rows:
        print(f"{name:<40} {baseline:>12.2f} {named:>12.2f} {named / baseline:>7.2f}")


if __name__ == "__main__":
    main()
