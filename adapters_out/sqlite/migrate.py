"""Numbered SQL migrations, applied in order, each in its own transaction and recorded.

Files `migrations/NNNN_name.sql` ship with the package. `migrate()` applies the
missing ones at start-up (and from `partner-ingest migrate`); applying twice is
a no-op. A database migrated by a newer release is refused with a clear
message instead of being written by code that does not know its schema.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import attrs

from partner_ingest.adapters_out.migration_files import MigrationFile, numbered_files, refuse_newer
from partner_ingest.adapters_out.store_errors import SchemaTooNewError

from .connection import timestamp

__all__ = ["Migration", "SchemaTooNewError", "available_migrations", "current_version", "migrate"]


@attrs.frozen
class Migration(MigrationFile):
    """One numbered SQL file, split into statements the way sqlite3 executes them."""

    def statements(self) -> list[str]:
        """The file split into complete statements (triggers keep their inner semicolons)."""
        out: list[str] = []
        pending = ""
        for line in self.sql.splitlines(keepends=True):
            if not pending and (not line.strip() or line.lstrip().startswith("--")):
                continue
            pending += line
            if sqlite3.complete_statement(pending):
                out.append(pending.strip())
                pending = ""
        if pending.strip():
            raise ValueError(f"migration {self.version:04d}_{self.name} ends with an incomplete statement")
        return out


def available_migrations() -> list[Migration]:
    """Every migration shipped with this release, in order."""
    return [Migration(m.version, m.name, m.sql) for m in numbered_files(__package__)]


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )


def current_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to this database (0 for a new one)."""
    _ensure_table(conn)
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> list[int]:
    """Apply the missing migrations up to `target` (default: all); return those applied."""
    migrations = available_migrations()
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; others wait, then find nothing to do
    try:
        have = current_version(conn)
        refuse_newer(have, newest)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if have >= target:
        # Every start of every command opens a current database: one transaction, not one a
        # migration, each waiting for the write lock a busy writer holds (ADR 0042).
        return []
    applied = []
    for migration in migrations:
        if migration.version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) >= migration.version:
                conn.execute("COMMIT")
                continue
            for statement in migration.statements():
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, timestamp(datetime.now(UTC))),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
