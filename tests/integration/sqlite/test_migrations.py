"""SQLite migrations: numbered, recorded, idempotent, refusing a newer schema, upgrading data (M2)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from partner_ingest.adapters_out.sqlite.connection import connect
from partner_ingest.adapters_out.sqlite.migrate import (
    SchemaTooNewError,
    available_migrations,
    current_version,
    migrate,
)
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import AuditQuery, Partner, Product
from partner_ingest.domain.model.schedules import Schedule


def test_every_migration_is_applied_once_and_recorded(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.db")
    newest = available_migrations()[-1].version
    assert migrate(conn) == list(range(1, newest + 1))
    assert migrate(conn) == []  # idempotent
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [v for v, _ in rows] == list(range(1, newest + 1))
    assert rows[0][1] == "initial"


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.db")
    migrate(conn)
    conn.execute(
        "INSERT INTO schema_migrations VALUES (999, 'from_the_future', '2030-01-01T00:00:00.000000Z')"
    )
    with pytest.raises(SchemaTooNewError, match="version 999, newer than this release knows"):
        SqliteStore(tmp_path / "m.db")


def test_upgrading_a_first_migration_database_with_data_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    assert migrate(conn, target=1) == [1]
    # Data written by the first release, through its own tables.
    conn.execute(
        "INSERT INTO partner (id, name, created_at, policy) VALUES ('acme', 'Acme', '2026-01-01T00:00:00.000000Z', '{}')"
    )
    conn.execute(
        "INSERT INTO product (partner_id, sku, name, price, currency, quantity, created_at, updated_at)"
        " VALUES ('acme', 'A-1', 'Mug', '9.50', 'EUR', 3, 'x', 'x')"
    )
    conn.execute(
        "INSERT INTO partner_ingest_audit (at, action, outcome, actor) VALUES"
        " ('2026-01-01T00:00:00.000000Z', 'auth.failed', 'denied', 'anonymous')"
    )
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("SELECT * FROM partner_schedules")
    conn.close()

    store = SqliteStore(path)  # migrates on open
    assert store.schema_version() == available_migrations()[-1].version
    with store.unit_of_work() as uow:
        assert uow.partners.get("acme") == Partner(
            id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        mug = uow.products.get("acme", "A-1")
        assert (
            mug is not None
            and mug.price
            == Product(
                partner_id="acme", sku="A-1", name="Mug", price=mug.price, currency="EUR", quantity=3
            ).price
        )
        assert len(store.audit_log.query(AuditQuery())) == 1
        uow.schedules.add(
            Schedule(
                id="s1", partner_id="acme", next_run_at=datetime(2026, 1, 2, tzinfo=UTC), interval_seconds=60
            )
        )
        uow.commit()
    assert current_version(store.connection()) == available_migrations()[-1].version
    store.close()


def test_migration_statements_keep_trigger_bodies_whole() -> None:
    initial = available_migrations()[0]
    triggers = [s for s in initial.statements() if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 2
    assert all(s.rstrip().endswith("END;") for s in triggers)
