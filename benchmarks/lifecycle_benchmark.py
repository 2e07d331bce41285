"""Catalog lifecycle benchmark (ADR 0036, 0037): a snapshot against an upsert of the same feed, and
what the change records cost an upsert.

    .venv/bin/python benchmarks/lifecycle_benchmark.py                    # 100,000 products, SQLite
    .venv/bin/python benchmarks/lifecycle_benchmark.py --count 1000000    # the issue's million

(1) A catalog of N products; a feed naming 99.5% of them, 1% of those changed.
    The same feed applied as an upsert and as a snapshot (which also retires the
    0.5% it leaves out), each on its own copy of the catalog; the target is a
    snapshot at most 1.3x the upsert.
(2) N new products ingested with the change records (one INSERT ... SELECT per
    batch), and with the repository's upsert as it was before the change feed: the
    cost of the change feed on the upsert, whose target is at most 10%. The two
    alternate, so that a slow moment of the shared machine hits both.
Each figure is the best of ROUNDS runs (the machine is shared). Nothing asserts.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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

ROUNDS = 5
FORMATS = load_formats(entry_points=False)


def feed(count: int, *, absent_every: int = 0, changed_every: int = 0) -> bytes:
    """JSON Lines: `count` products, leaving out every `absent_every`-th, changing every `changed_every`-th."""
    lines = []
    for n in range(count):
        if absent_every and n % absent_every == 0:
            continue
        price = 10 + (n % 97) + (1 if changed_every and n % changed_every == 1 else 0)
        lines.append(
            json.dumps(
                {
                    "sku": f"SKU-{n:08d}",
                    "name": f"Item {n}",
                    "price": price,
                    "currency": "EUR",
                    "quantity": n % 13,
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def ingest_into(store: Any, body: bytes, mode: FeedMode) -> float:
    ingest = IngestFeed(store.unit_of_work, FORMATS, FakeClock(), UuidIds(), guard=RetirementGuard())
    started = time.perf_counter()
    report = ingest(FeedSubmission(partner_id="bench", body=io.BytesIO(body), format="jsonl", feed_mode=mode))
    elapsed = time.perf_counter() - started
    assert report.applied, report
    return elapsed


def with_partner(store: Any) -> Any:
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="bench", name="Bench", created_at=FakeClock().now(), default_version=2))
        uow.commit()
    return store


def best(run: Callable[[], float]) -> float:
    return min(run() for _ in range(ROUNDS))


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


def sqlite_section(count: int, directory: Path, *, parts: str = "both") -> None:
    if parts in ("both", "snapshot"):
        snapshot_part(count, directory)
    if parts in ("both", "changes"):
        changes_part(count, directory)


def snapshot_part(count: int, directory: Path) -> None:
    catalog = feed(count)
    later = feed(count, absent_every=200, changed_every=100)  # 0.5% absent, 1% changed
    base = directory / "catalog.db"
    store = with_partner(SqliteStore(base))
    ingest_into(store, catalog, FeedMode.UPSERT)
    store.close()

    def applied(mode: FeedMode) -> Callable[[], float]:
        def run() -> float:
            copy = directory / f"{mode}.db"
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{copy}{suffix}").exists():
                    os.remove(f"{copy}{suffix}")
            shutil.copy(base, copy)
            target = SqliteStore(copy)
            try:
                return ingest_into(target, later, mode)
            finally:
                target.close()

        return run

    upsert = best(applied(FeedMode.UPSERT))
    snapshot = best(applied(FeedMode.SNAPSHOT))
    print(f"SQLite, {count:,} products, feed of 99.5% with 1% changed:")
    print(f"  upsert   {upsert:8.2f} s")
    print(f"  snapshot {snapshot:8.2f} s   {snapshot / upsert:.2f}x the upsert (target <= 1.3x)")


def changes_part(count: int, directory: Path) -> None:
    catalog = feed(count)

    def fresh(records: bool) -> Callable[[], float]:
        def run() -> float:
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

        return run

    without_runs: list[float] = []
    with_runs: list[float] = []
    for _ in range(ROUNDS):
        without_runs.append(fresh(False)())
        with_runs.append(fresh(True)())
    without, with_records = min(without_runs), min(with_runs)
    print(f"  {count:,} new products, without change records {without:8.2f} s")
    print(
        f"  {count:,} new products, with change records    {with_records:8.2f} s   "
        f"+{(with_records / without - 1) * 100:.1f}% (target <= 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument(
        "--only", choices=("snapshot", "changes"), help="run one of the two parts (default: both)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        sqlite_section(args.count, Path(directory), parts=args.only or "both")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
