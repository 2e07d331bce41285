"""Real processes on one SQLite file: concurrent writers never see "database is locked".

What holds for every SQL store (a process killed mid-feed, a worker killed mid-job,
jobs over three worker processes) is in tests/integration/sql/test_processes.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import AuditAction, AuditQuery, Partner

TESTS = Path(__file__).resolve().parents[2]


def child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-m", "support.sqlite_child", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seeded_store(path: Path, *partners: str) -> SqliteStore:
    store = SqliteStore(path)
    with store.unit_of_work() as uow:
        for pid in partners:
            uow.partners.add(Partner(id=pid, name=pid, created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        uow.commit()
    return store


@pytest.mark.slow
def test_concurrent_processes_and_threads_never_see_a_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    store = seeded_store(db, "p0", "p1", "p2", "p3")
    procs = [child("hammer", str(db), f"p{n}", "8") for n in range(4)]
    results = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-2000:]
        assert out.strip() == "OK 24"
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.imports.recent(limit=1000)) == 4 * 24
        # Each thread's 8 feeds reuse the same 20 SKUs: 20 products per partner.
        assert [uow.products.count(f"p{n}") for n in range(4)] == [20, 20, 20, 20]
    assert len(store.audit_log.query(AuditQuery(action=AuditAction.AUTH_FAILED, limit=1000))) == 4 * 24
    store.close()
