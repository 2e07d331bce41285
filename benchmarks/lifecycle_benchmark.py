"""Catalog lifecycle benchmark (ADR 0036, 0037): a snapshot against an upsert of the same feed, and
what the change records cost an upsert.

    .venv/bin/python benchmarks/lifecycle_benchmark.py --count 1000000              # the issue's million
    .venv/bin/python benchmarks/lifecycle_benchmark.py --count 1000000 --store postgres
    .venv/bin/python benchmarks/lifecycle_benchmark.py --only changes               # (2) alone, 100,000

(1) A catalog of N products; a feed naming 99.5% of them, 1% of those changed.
    The same feed applied by `partner-ingest ingest FILE --feed-mode upsert` and
    `--feed-mode snapshot` (which also retires the 0.5% it leaves out), each a
    whole process on the same catalog (SQLite: a fresh copy of it; PostgreSQL:
    the catalog written back by an upsert of it, not timed), the two modes
    alternating. Printed: each mode's best wall time (every run's beside it) and
    best CPU time, the snapshot's ratio to the upsert (target <= 1.3x; beside it
    the median of each round's ratio of its two back-to-back runs, and the CPU
    ratio, which move least with the shared machine's load), and the peak
    memory of each process tree (the CLI and its parser process, the sum of their
    VmHWM; issue 3's limit, which issue 13 holds the snapshot to: 150 MB; issue 17's
    target for every ingest: 90 MB).
(2) N new products ingested in process with the change records (one record per
    batch and kind), and with the repository's upsert as it was before the change
    feed: before / after / the cost of the change records (target <= 10%), in wall
    and in CPU time. On the feed `make bench` times (its realistic mix, JSON Lines,
    cached in benchmarks/.data), then on the plain feed of (1), whose short rows
    make the records' share the largest. The two alternate, so that a slow moment
    of the shared machine hits both.
Each figure is the best of --rounds runs (the machine is shared). Nothing asserts.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.sqlite.products import SqliteProductRepository, batch_time, upsert_statement
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.retirement import RetirementGuard
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats
from partner_ingest.ports.repositories import UpsertCounts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_benchmark import CLI, RSS_LIMIT_MB, run_process, write_feed  # a sibling script

# Issue 3's peak memory limit at 1,000,000 products, which issue 13 holds the snapshot to
# (RSS_LIMIT_MB is issue 17's tighter target for every ingest, printed beside it).
SNAPSHOT_RSS_LIMIT_MB = 150

ROUNDS = 5
SNAPSHOT_TARGET = 1.3
CHANGES_TARGET = 0.10
FORMATS = load_formats(entry_points=False)
POSTGRES_ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"


def feed_lines(count: int, *, absent_every: int = 0, changed_every: int = 0) -> Iterator[str]:
    """JSON Lines: `count` products, leaving out every `absent_every`-th, changing every `changed_every`-th."""
    for n in range(count):
        if absent_every and n % absent_every == 0:
            continue
        price = 10 + (n % 97) + (1 if changed_every and n % changed_every == 1 else 0)
        product = {"sku": f"SKU-{n:08d}", "name": f"Item {n}", "price": price, "currency": "EUR"}
        yield json.dumps({**product, "quantity": n % 13}) + "\n"


def feed(count: int, *, absent_every: int = 0, changed_every: int = 0) -> bytes:
    """The feed of `feed_lines` in memory."""
    return "".join(feed_lines(count, absent_every=absent_every, changed_every=changed_every)).encode()


def feed_file(path: Path, count: int, **shape: int) -> Path:
    """The feed of `feed_lines` written to `path` (a million products never sit in memory)."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(feed_lines(count, **shape))
    return path


def ingest_into(store: Any, body: bytes, mode: FeedMode) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one ingest through `IngestFeed`."""
    ingest = IngestFeed(store.unit_of_work, FORMATS, FakeClock(), UuidIds(), guard=RetirementGuard())
    started, cpu = time.perf_counter(), time.process_time()
    report = ingest(FeedSubmission(partner_id="bench", body=io.BytesIO(body), format="jsonl", feed_mode=mode))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.applied, report
    return elapsed, cpu


def with_partner(store: Any) -> Any:
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="bench", name="Bench", created_at=FakeClock().now(), default_version=2))
        uow.commit()
    return store


def best(run: Callable[[], float], rounds: int = ROUNDS) -> float:
    return min(run() for _ in range(rounds))


def upsert_without_changes(
    self: SqliteProductRepository, rows: Sequence[ProductRow], *, feed_id: str | None = None
) -> UpsertCounts:
    """The repository's upsert as it was before the change feed: the baseline of (2)."""
    if not rows:
        return UpsertCounts(0, 0, 0)
    conn = self._conn
    top = conn.execute("SELECT max(id) FROM product").fetchone()[0] or 0
    changed = conn.executemany(*upsert_statement(rows, batch_time(), feed_id)).rowcount
    created = conn.execute("SELECT count(*) FROM product WHERE id > ?", (top,)).fetchone()[0]
    return UpsertCounts(created, changed - created, len(rows) - changed)


def cli_env(database_url: str) -> dict[str, str]:
    """The environment of a `partner-ingest` process on `database_url` (no Redis: in-process limits)."""
    env = {**os.environ, "PARTNER_INGEST_DATABASE_URL": database_url}
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    return env


@attrs.frozen
class Run:
    """One `partner-ingest ingest` process: wall seconds, CPU seconds of its tree, peak MB of its tree."""

    seconds: float
    cpu: float
    peak: float
    processes: int


def cli_ingest(path: Path, mode: FeedMode, env: dict[str, str]) -> Run:
    """A run of `partner-ingest ingest FILE --feed-mode MODE`. The CPU time (user + system of
    the process and its parser process, once both were waited for) is what other helpers'
    load on a shared machine moves least; the wall time is the target's measure."""
    argv = [CLI, "ingest", str(path), "--partner", "bench", "--format", "jsonl", "--version", "2"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, peak, processes = run_process([*argv, "--feed-mode", str(mode)], env, sample=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(elapsed, cpu, peak, processes)


class SqliteCatalog:
    """The catalog in a SQLite file; each run on a fresh copy of it."""

    name = "SQLite"

    def __init__(self, directory: Path, catalog: Path) -> None:
        self._directory = directory
        self._base = directory / "catalog.db"
        store = with_partner(SqliteStore(self._base))
        ingest_into(store, catalog.read_bytes(), FeedMode.UPSERT)
        store.close()

    def env(self) -> dict[str, str]:
        """A fresh copy of the catalog, as a process's environment names it."""
        copy = self._directory / "run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        shutil.copy(self._base, copy)
        return cli_env(f"sqlite:///{copy}")

    def close(self) -> None:
        """Nothing to drop: the directory goes."""


class PostgresCatalog:
    """The catalog in a schema of its own; before each run the catalog feed is upserted again
    (untimed), which restores what a snapshot retired and undoes the changes."""

    name = "PostgreSQL"

    def __init__(self, url: str, catalog: Path) -> None:
        from cryptography.fernet import Fernet

        from partner_ingest.adapters_out.postgres.store import PostgresStore

        self._schema = f"lifecycle_bench_{secrets.token_hex(4)}"
        self._url = url
        store = with_partner(PostgresStore(url, schema=self._schema))
        store.close()
        separator = "&" if "?" in url else "?"
        self._env = cli_env(f"{url}{separator}options=-csearch_path%3D{self._schema}")
        # Required with PostgreSQL (every instance hashes keys and decrypts credentials alike).
        self._env["PARTNER_INGEST_KEY_HASH_SECRET"] = secrets.token_hex(32)
        self._env["PARTNER_INGEST_VAULT_KEYS"] = Fernet.generate_key().decode()
        self._catalog = catalog
        cli_ingest(catalog, FeedMode.UPSERT, self._env)

    def env(self) -> dict[str, str]:
        """The catalog written back as it was, as a process's environment names it."""
        cli_ingest(self._catalog, FeedMode.UPSERT, self._env)
        return self._env

    def close(self) -> None:
        """Drop the schema."""
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')


def snapshot_part(count: int, directory: Path, *, store: str, rounds: int) -> None:
    catalog_feed = feed_file(directory / "catalog.jsonl", count)
    later = feed_file(directory / "later.jsonl", count, absent_every=200, changed_every=100)  # 0.5%, 1%
    if store == "postgres":
        url = os.environ.get(POSTGRES_ENV)
        if not url:
            raise SystemExit(f"--store postgres needs {POSTGRES_ENV}")
        catalog: SqliteCatalog | PostgresCatalog = PostgresCatalog(url, catalog_feed)
    else:
        catalog = SqliteCatalog(directory, catalog_feed)
    runs: dict[FeedMode, list[Run]] = {FeedMode.UPSERT: [], FeedMode.SNAPSHOT: []}
    try:
        for n in range(rounds):
            # Alternating, and each mode first every other round: a slow minute hits both.
            order = (
                (FeedMode.UPSERT, FeedMode.SNAPSHOT) if n % 2 == 0 else (FeedMode.SNAPSHOT, FeedMode.UPSERT)
            )
            for mode in order:
                runs[mode].append(cli_ingest(later, mode, catalog.env()))
    finally:
        catalog.close()
    wall = {mode: min(r.seconds for r in done) for mode, done in runs.items()}
    cpu = {mode: min(r.cpu for r in done) for mode, done in runs.items()}
    ratio = wall[FeedMode.SNAPSHOT] / wall[FeedMode.UPSERT]
    cpu_ratio = cpu[FeedMode.SNAPSHOT] / cpu[FeedMode.UPSERT]
    # Each round's two runs were back to back: their ratio cancels the load's slow drift,
    # which a best-of over all runs does not (one quiet minute for one mode decides it).
    paired = statistics.median(
        s.seconds / u.seconds for u, s in zip(runs[FeedMode.UPSERT], runs[FeedMode.SNAPSHOT], strict=True)
    )
    print(f"{catalog.name}, {count:,} products, `partner-ingest ingest` of a feed of 99.5% with 1% changed,")
    print(f"best of {rounds} alternating runs (every run's wall seconds in brackets):")
    for mode, done in runs.items():
        every = ", ".join(f"{r.seconds:.1f}" for r in done)
        peak = max(r.peak for r in done)
        peaks = ", ".join(f"{r.peak:.0f} MB/{r.processes}" for r in done)
        limit = "ok" if peak <= SNAPSHOT_RSS_LIMIT_MB else "OVER"
        target = "ok" if peak <= RSS_LIMIT_MB else "OVER"
        print(
            f"  {mode:<8} {wall[mode]:7.2f} s  [{every}]  CPU {cpu[mode]:6.2f} s  peak {peak:5.1f} MB"
            f" (limit {SNAPSHOT_RSS_LIMIT_MB} MB: {limit}; ingest target {RSS_LIMIT_MB} MB: {target})"
            f" [{peaks} processes]"
        )
    verdict = "ok" if ratio <= SNAPSHOT_TARGET else "OVER"
    print(
        f"  snapshot / upsert: {ratio:.2f}x wall, best of each (target <= {SNAPSHOT_TARGET}x: {verdict});"
        f" median of the rounds' ratios {paired:.2f}x; {cpu_ratio:.2f}x CPU"
    )
    if catalog.name == "PostgreSQL":
        print("  (CPU: the client processes only; the server's work shows in the wall time)")


def changes_part(count: int, directory: Path, *, rounds: int) -> None:
    """(2) on the feed `make bench` times (its realistic mix, JSON Lines), then on the plain
    feed of (1), whose five short fields a product make the records' share the largest."""
    feeds = (
        ("the realistic mix of `make bench`", write_feed("jsonl", count).read_bytes()),
        ("five short fields a product", feed(count)),
    )
    for name, body in feeds:
        change_cost(count, name, body, directory, rounds=rounds)


def change_cost(count: int, name: str, catalog: bytes, directory: Path, *, rounds: int) -> None:
    """Before / after / cost of the change records, on one feed of `count` new products."""

    def fresh(records: bool) -> tuple[float, float]:
        path = directory / f"fresh-{records}-{time.monotonic_ns()}.db"
        target = with_partner(SqliteStore(path))
        try:
            if records:
                return ingest_into(target, catalog, FeedMode.UPSERT)
            kept = SqliteProductRepository.upsert
            SqliteProductRepository.upsert = upsert_without_changes  # type: ignore[method-assign]
            try:
                return ingest_into(target, catalog, FeedMode.UPSERT)
            finally:
                SqliteProductRepository.upsert = kept  # type: ignore[method-assign]
        finally:
            target.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for n in range(rounds):
        for records in (False, True) if n % 2 == 0 else (True, False):
            runs[records].append(fresh(records))
    print(
        f"SQLite, an upsert of {count:,} new products ({name}) through IngestFeed,"
        f" best of {rounds} alternating runs (every run's wall seconds in brackets):"
    )
    best_of = {records: (min(w for w, _ in done), min(c for _, c in done)) for records, done in runs.items()}
    for records, label in ((False, "before (no change records) "), (True, "after (with change records)")):
        wall, cpu = best_of[records]
        every = ", ".join(f"{w:.2f}" for w, _ in runs[records])
        print(f"  {label} {wall:6.2f} s  {count / wall:9,.0f} products/s  [{every}]  CPU {cpu:6.2f} s")
    cost = best_of[True][0] / best_of[False][0] - 1
    cpu_cost = best_of[True][1] / best_of[False][1] - 1
    verdict = "ok" if cost <= CHANGES_TARGET else "OVER"
    print(
        f"  cost of the change records: {cost * 100:+.1f}% wall (target <= {CHANGES_TARGET:.0%}: {verdict}),"
        f" {cpu_cost * 100:+.1f}% CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"runs of each (default {ROUNDS})")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite", help="the store of (1)")
    parser.add_argument(
        "--only", choices=("snapshot", "changes"), help="run one of the two parts (default: both)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        if args.only in (None, "snapshot"):
            snapshot_part(args.count, Path(directory), store=args.store, rounds=args.rounds)
        if args.only in (None, "changes"):
            changes_part(args.count, Path(directory), rounds=args.rounds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
