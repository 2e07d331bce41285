"""What the audit chain costs (ADR 0028): appending, verifying, and concurrent appenders on PostgreSQL.

- SQLite: ENTRIES entries appended in units of work of 1,000, then one full
  verification (`VerifyAuditChain`, the walk `audit verify` and /metrics do).
- PostgreSQL (when PARTNER_INGEST_TEST_POSTGRES_URL is set): THREADS threads
  each appending APPENDS entries through the standalone audit log at once (a
  flood of failed authentications), in a schema of its own. Appends serialize
  on the chain lock through their commit; concurrent ones are committed
  together, which is what keeps this from falling to one commit latency per entry.

    .venv/bin/python benchmarks/audit_chain_benchmark.py [--entries 100000] [--threads 8] [--appends 200]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        datetime.now(UTC),
        AuditAction.FEED_INGESTED,
        Outcome.SUCCESS,
        "acme",
        partner_id="acme",
        client="10.0.0.1",
        details={"n": n, "items": 1000},
    )


def sqlite(entries: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "audit.db")
        started = time.perf_counter()
        for first in range(0, entries, 1000):
            with store.unit_of_work() as uow:
                uow.audit.append_many([entry(n) for n in range(first, min(first + 1000, entries))])
                uow.commit()
        appended = time.perf_counter() - started
        started = time.perf_counter()
        verdict = VerifyAuditChain(store.audit_log)()
        verified = time.perf_counter() - started
        store.close()
    print(f"sqlite: {entries:,} entries appended in {appended:.2f} s ({entries / appended:,.0f}/s)")
    print(
        f"sqlite: verified {verdict.entries:,} (ok={verdict.ok}) in {verified:.2f} s ({verdict.entries / verified:,.0f}/s)"
    )


def postgres(url: str, threads: int, appends: int) -> None:
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    store = PostgresStore(url, schema="partner_ingest_bench_" + secrets.token_hex(4), pool_size=threads)
    try:
        start = threading.Barrier(threads)

        def append() -> None:
            start.wait()
            for n in range(appends):
                store.audit_log.append(entry(n))

        workers = [threading.Thread(target=append) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        total = threads * appends
        print(
            f"postgres: {threads} threads x {appends} standalone appends: {elapsed:.2f} s ({total / elapsed:,.0f}/s)"
        )
        started = time.perf_counter()
        verdict = VerifyAuditChain(store.audit_log)()
        print(
            f"postgres: verified {verdict.entries:,} (ok={verdict.ok}) in {time.perf_counter() - started:.2f} s"
        )
    finally:
        store.drop_schema_and_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--appends", type=int, default=200)
    args = parser.parse_args()
    sqlite(args.entries)
    url = os.environ.get("PARTNER_INGEST_TEST_POSTGRES_URL")
    if url:
        postgres(url, args.threads, args.appends)
    else:
        print("postgres: skipped (set PARTNER_INGEST_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
