"""A feed of many invalid items keeps all of them in bounded memory: the rejections stream to a
file spool and into the store a batch at a time, where a spool in memory grows with the feed."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from support.sqlite_files import migrated_database
from support.tracing import untraced

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.adapters_out.spool import FileRejectionSpools
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import FeedStatus, Partner, ValidationPolicy
from partner_ingest.domain.model.policy import Mode
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.diagnostics import MemorySpool
from partner_ingest.plugins import load_formats
from partner_ingest.ports.diagnostics import RejectionSpools

ITEMS = 3_000
BATCH = 100
"""Items per chunk: a chunk's rejections are held until spooled, so a small one keeps that
transient (the same at every feed size) below what the memory spool holds at ITEMS."""


def _feed(items: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "sku": f"SKU-{n:06d}",
                "name": "x" * 80,
                "price": "not a price",
                "currency": "EUR",
                "quantity": 1,
            }
        )
        + "\n"
        for n in range(items)
    ).encode()


def _peak(tmp_path: Path, name: str, spools: RejectionSpools, items: int = ITEMS) -> int:
    """Peak memory allocated while ingesting `items` invalid items (the body is read from a file)."""
    store = SqliteStore(migrated_database(tmp_path / f"{name}.db"))
    clock = FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(
                id="acme", name="Acme", created_at=clock.now(), policy=ValidationPolicy(mode=Mode.LENIENT)
            )
        )
        uow.commit()
    ingest = IngestFeed(
        store.unit_of_work,
        load_formats(entry_points=False),
        clock,
        SequentialIds(),
        spools=spools,
        batch_size=BATCH,
    )
    feed = tmp_path / f"{name}.jsonl"
    feed.write_bytes(_feed(items))
    tracemalloc.start()
    try:
        with feed.open("rb") as body:
            report = ingest(FeedSubmission(partner_id="acme", body=body, format="jsonl", version=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.status is FeedStatus.REJECTED and report.errors_total == items
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.diagnostics.page(report.feed_id, after_seq=items - 5, limit=10)) == 5
    store.close()
    return peak


@pytest.mark.slow  # 7,500 rejections ingested under tracemalloc
def test_every_rejection_of_a_large_feed_is_kept_in_bounded_memory(tmp_path: Path) -> None:
    # A first ingest pays for what is built once per process (compiled validators, caches,
    # lazy imports), so that neither size measured below carries it.
    _peak(tmp_path, "warm", FileRejectionSpools(max_memory=16 * 1024), 300)
    _peak(tmp_path, "warm-memory", MemorySpool, 100)
    # The sizes compared run without the coverage tracer, at half the CPU (support/tracing.py):
    # the warm-ups above are traced and take every path they take (both spools, JSON Lines
    # read a block of 256 lines at a time), so the package's coverage is the same.
    half = untraced(lambda: _peak(tmp_path, "half", FileRejectionSpools(max_memory=16 * 1024), ITEMS // 2))
    on_file = untraced(lambda: _peak(tmp_path, "file", FileRejectionSpools(max_memory=16 * 1024)))
    in_memory = untraced(lambda: _peak(tmp_path, "memory", MemorySpool))
    per_item = (on_file - half) / (ITEMS // 2)
    print(
        f"peak: file spool {half / 1e6:.2f} MB ({ITEMS // 2} items), {on_file / 1e6:.2f} MB ({ITEMS} items),"
        f" {per_item:.0f} bytes per more item; memory spool {in_memory / 1e6:.2f} MB ({ITEMS} items)"
    )
    # Spooled, more rejections cost no more than the feed's SKU register (a set of the SKUs
    # seen, ~120 bytes each until it moves to a temp table): the growth between two feed
    # sizes, so what every feed costs alike cancels out. Held as objects, each rejection
    # costs several hundred bytes more.
    assert per_item < 250, (half, on_file)
    assert in_memory - on_file > ITEMS * 200, (on_file, in_memory)
