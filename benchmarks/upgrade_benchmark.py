"""Upgrade with data (issue 13, M2): the migrations after 0006 applied to a catalog of a million
products while a thread keeps ingesting small feeds.

    .venv/bin/python benchmarks/upgrade_benchmark.py                     # SQLite, 1,000,000 products
    PARTNER_INGEST_TEST_POSTGRES_URL=postgresql://... \\
        .venv/bin/python benchmarks/upgrade_benchmark.py --store postgres  # PostgreSQL, loaded with COPY
    .venv/bin/python benchmarks/upgrade_benchmark.py --count 100000      # quicker

The schema is built as the release before the catalog lifecycle had it
(migrations 0001-0006), loaded, then each later migration is applied in turn
(the migrator of the new release), timed. Meanwhile a writer thread, standing for
the old release still serving, upserts a feed of 50 products at a time with
plain SQL that both schemas accept. For each migration it prints how long it took,
how many feeds the writer committed while it ran, and the writer's longest feed:
on PostgreSQL ingest goes on (the migrations take their locks for milliseconds),
on SQLite it waits (one writer at a time) for at most the migration's duration.
Nothing asserts; the figures are quoted in docs/deployment.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from partner_ingest.adapters_out.sqlite import migrate as sqlite_migrate
from partner_ingest.adapters_out.sqlite.connection import connect as sqlite_connect

BEFORE = 6  # the last migration of the release the upgrade starts from
FEED = 50  # products per feed of the writer thread
STAMP = "2026-01-01T00:00:00.000Z"
COLUMNS = ("partner_id", "sku", "name", "price", "currency", "quantity", "created_at", "updated_at")


def rows(count: int) -> Iterator[tuple[object, ...]]:
    for n in range(count):
        yield ("bench", f"SKU-{n:08d}", f"Item {n}", f"{10 + n % 97}.50", "EUR", n % 13, STAMP, STAMP)


class Writer(threading.Thread):
    """Upserts feeds of FEED products until stopped; keeps when each feed started and ended."""

    def __init__(self, write: Callable[[int], None]) -> None:
        super().__init__(daemon=True)
        self._write = write
        self.feeds: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self._halt.is_set():
            started = time.perf_counter()
            try:
                self._write(n)
            except Exception as error:  # a benchmark reports, it does not stop at the first failure
                self.errors.append(f"{type(error).__name__}: {error}"[:200])
            self.feeds.append((started, time.perf_counter()))
            n += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def during(self, start: float, end: float) -> tuple[int, float]:
        """Feeds committed inside [start, end], and the longest feed overlapping it."""
        done = sum(1 for s, e in self.feeds if start <= e <= end)
        overlapping = [e - s for s, e in self.feeds if s <= end and e >= start]
        return done, max(overlapping, default=0.0)


def feed_rows(n: int) -> list[tuple[object, ...]]:
    first = (n * FEED) % 1_000_000
    return [
        ("bench", f"SKU-{k:08d}", f"Item {k}", "1.00", "EUR", n % 7, now(), now())
        for k in range(first, first + FEED)
    ]


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def report(
    store: str, count: int, load: float, timings: list[tuple[str, tuple[float, float]]], writer: Writer
) -> None:
    print(f"{store}, {count:,} products loaded in {load:.1f} s; migrations after {BEFORE:04d}:")
    for name, (start, end) in timings:
        done, longest = writer.during(start, end)
        print(
            f"  {name:40s} {end - start:7.2f} s   feeds committed meanwhile {done:4d}, longest feed {longest:6.2f} s"
        )
    total = sum(end - start for _, (start, end) in timings)
    print(
        f"  total {total:.2f} s; the writer committed {len(writer.feeds)} feeds, errors: {writer.errors[:3] or 'none'}"
    )


def sqlite_run(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upgrade.db"
        conn = sqlite_connect(path)
        sqlite_migrate.migrate(conn, target=BEFORE)
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO partner (id, name, created_at) VALUES ('bench', 'Bench', ?)", (STAMP,))
        conn.executemany(
            f"INSERT INTO product ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            rows(count),
        )
        conn.execute("COMMIT")
        load = time.perf_counter() - started

        other = sqlite_connect(path)

        def write(n: int) -> None:
            other.execute("BEGIN IMMEDIATE")
            try:
                other.executemany(UPSERT_SQLITE, feed_rows(n))
                other.execute("COMMIT")
            except BaseException:
                other.execute("ROLLBACK")
                raise

        writer = Writer(write)
        writer.start()
        time.sleep(0.5)
        timings: list[tuple[str, tuple[float, float]]] = []
        for migration in sqlite_migrate.available_migrations():
            if migration.version <= BEFORE:
                continue
            begun = time.perf_counter()
            sqlite_migrate.migrate(conn, target=migration.version)
            timings.append((f"{migration.version:04d}_{migration.name}", (begun, time.perf_counter())))
        time.sleep(0.5)
        writer.stop()
        report("SQLite", count, load, timings, writer)
        other.close()
        conn.close()


UPSERT_SQLITE = (
    f"INSERT INTO product ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (partner_id, sku) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at"
)
UPSERT_POSTGRES = (
    f"INSERT INTO product ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
    "ON CONFLICT (partner_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = EXCLUDED.updated_at"
)


def postgres_run(url: str, count: int) -> None:
    import psycopg

    from partner_ingest.adapters_out.postgres import migrate as pg_migrate
    from partner_ingest.adapters_out.postgres.connection import connect as pg_connect

    schema = f"upgrade_{secrets.token_hex(4)}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        conn = pg_connect(url, schema, timeout=10)
        pg_migrate.migrate(conn, schema, target=BEFORE)
        started = time.perf_counter()
        conn.execute("INSERT INTO partner (id, name, created_at) VALUES ('bench', 'Bench', now())")
        with conn.cursor().copy(f"COPY product ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(count):
                copy.write_row(row)
        conn.commit()
        conn.execute("ANALYZE product")
        conn.commit()
        load = time.perf_counter() - started

        other = pg_connect(url, schema, timeout=10)

        def write(n: int) -> None:
            with other.transaction():
                other.cursor().executemany(UPSERT_POSTGRES, feed_rows(n))

        other.autocommit = True
        writer = Writer(write)
        writer.start()
        time.sleep(0.5)
        timings: list[tuple[str, tuple[float, float]]] = []
        for migration in pg_migrate.available_migrations():
            if migration.version <= BEFORE:
                continue
            begun = time.perf_counter()
            pg_migrate.migrate(conn, schema, target=migration.version)
            timings.append((f"{migration.version:04d}_{migration.name}", (begun, time.perf_counter())))
        time.sleep(0.5)
        writer.stop()
        report("PostgreSQL", count, load, timings, writer)
        other.close()
        conn.close()
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if args.store == "postgres":
        url = os.environ.get("PARTNER_INGEST_TEST_POSTGRES_URL")
        if not url:
            sys.exit("upgrade_benchmark: set PARTNER_INGEST_TEST_POSTGRES_URL to run it on PostgreSQL")
        postgres_run(url, args.count)
    else:
        sqlite_run(args.count)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
