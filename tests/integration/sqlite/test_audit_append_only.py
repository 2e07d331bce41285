"""SQLite's audit table: an index under every filter, and the standalone log kept out of units of work.

The append-only triggers themselves hold for every SQL store: tests/integration/sql/test_audit_append_only.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.sqlite_files import migrated_database

from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome


def test_every_audit_filter_has_an_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    conn = store.connection()
    for column in ("at", "partner_id", "action", "outcome"):
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT id FROM partner_ingest_audit WHERE {column} = ?", ("x",)
            )
        )
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (column, plan)
    store.close()


def test_the_standalone_audit_log_refuses_to_run_inside_a_unit_of_work(tmp_path: Path) -> None:
    store = SqliteStore(migrated_database(tmp_path / "a.db"))
    entry = AuditEntry(datetime(2026, 1, 1, tzinfo=UTC), AuditAction.AUTH_FAILED, Outcome.DENIED, "anonymous")
    with store.unit_of_work(), pytest.raises(RuntimeError, match=r"uow\.audit"):
        store.audit_log.append(entry)
    store.close()
