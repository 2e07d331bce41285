"""What only SQLite's migration runner does: split a script into statements, trigger bodies whole.

Numbered, recorded, idempotent, refusing a newer schema and upgrading data (M2) hold for
every SQL store: tests/integration/sql/test_migrations.py."""

from __future__ import annotations

from partner_ingest.adapters_out.sqlite.migrate import (
    available_migrations,
)


def test_migration_statements_keep_trigger_bodies_whole() -> None:
    initial = available_migrations()[0]
    triggers = [s for s in initial.statements() if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 2
    assert all(s.rstrip().endswith("END;") for s in triggers)
