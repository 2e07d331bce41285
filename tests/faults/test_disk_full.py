"""Fault: the SQLite database's disk fills up under a running service, then space returns (ADR 0028).

The database lives on a tmpfs of 8 MiB mounted for this test alone (mounting
needs root; CI runs as root). A filler file takes the space: `/readyz` reports
the low disk (503, `disk: low`), a feed that needs the space answers 503
`store_full` in the API's error shape (never a 500), nothing of it is written
(products, ledger and the database's integrity as before), and once the filler
is gone the same feed is accepted, with no operator action on the service.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.service import Service, serving
from support.workers import feed

JSONL = "application/x-ndjson"
DISK = 8 * 1024 * 1024
LOW = 1024 * 1024


@contextmanager
def small_disk(directory: Path) -> Iterator[Path]:
    directory.mkdir()
    if os.geteuid() != 0:
        pytest.skip("the disk-full fault mounts a small tmpfs, which needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def fill(path: Path, leave: int) -> None:
    """Take the file system's space but `leave` bytes."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    with path.open("wb") as filler:
        filler.write(b"\0" * max(0, free - leave))


def counts(service: Service) -> tuple[int, int]:
    [(products,)] = service.sql("SELECT count(*) FROM product")
    [(imports,)] = service.sql("SELECT count(*) FROM partner_feed_imports")
    return int(products), int(imports)


def ingest(service: Service, key: str, body: bytes) -> tuple[int, dict[str, object]]:
    answer = service.client().post(
        "/partner/ingest", content=body, headers={"Content-Type": JSONL, "Authorization": f"Bearer {key}"}
    )
    return answer.status_code, answer.json()


def test_a_full_disk_answers_503_store_full_writes_nothing_and_recovers(tmp_path: Path) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        serving(disk / "svc.db", min_free_disk_bytes=LOW, parser_processes=0) as service,
    ):
        admin = service.admin_key()
        _, key = service.partner(admin, rate_limit_per_minute=1000)
        client = service.client()
        assert client.get("/readyz").json()["checks"]["disk"] == "ok"
        assert ingest(service, key, feed(10))[0] == 200
        before = counts(service)

        filler = disk / "filler"
        fill(filler, leave=64 * 1024)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["details"]["disk"].startswith("low (")

        big = feed(20_000, first=1000)  # about 2.5 MiB of products: more than is left
        status, body = ingest(service, key, big)
        assert status == 503, body
        assert body["error"] == "store_full"
        assert body["details"]["message"] == "the database has no space left; retry later"  # type: ignore[index]
        assert counts(service) == before  # nothing half-written
        queued = service.client().post(
            "/partner/ingest?mode=async",
            content=big,
            headers={"Content-Type": JSONL, "Authorization": f"Bearer {key}"},
        )
        assert (queued.status_code, queued.json()["error"]) == (503, "store_full")
        assert service.sql("SELECT count(*) FROM partner_ingest_jobs")[0][0] == 0
        conn = sqlite3.connect(f"file:{disk / 'svc.db'}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
        # Reads keep working while the disk is full.
        assert client.get("/partner/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200

        filler.unlink()  # space returns; nobody touches the service
        assert client.get("/readyz").status_code == 200
        status, body = ingest(service, key, big)
        assert status == 200, body
        assert counts(service) == (before[0] + 20_000, before[1] + 1)
