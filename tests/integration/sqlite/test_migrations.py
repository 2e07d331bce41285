"""What only SQLite's migration runner does: split a script into statements, trigger bodies whole.

Numbered, recorded, idempotent, refusing a newer schema and upgrading data (M2) hold for
every SQL store: tests/integration/sql/test_migrations.py."""

from __future__ import annotations

from pathlib import Path

from partner_ingest.adapters_out.sqlite.connection import connect
from partner_ingest.adapters_out.sqlite.migrate import (
    available_migrations,
    migrate,
)


def test_migration_statements_keep_trigger_bodies_whole() -> None:
    initial = available_migrations()[0]
    triggers = [s for s in initial.statements() if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 2
    assert all(s.rstrip().endswith("END;") for s in triggers)


def test_a_current_database_is_checked_in_one_transaction(tmp_path: Path) -> None:
    """Every command opens its store migrating it: a current one costs one write lock, not one a migration."""
    conn = connect(tmp_path / "current.db")
    assert migrate(conn) == [m.version for m in available_migrations()]
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    assert migrate(conn) == []
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    conn.close()
