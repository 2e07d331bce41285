"""Numbered PostgreSQL migrations, applied in order, each in its own transaction and recorded.

The same rules as the SQLite store's (shared in adapters_out/migration_files.py):
files `migrations/NNNN_name.sql` ship with the package; `migrate()` applies the
missing ones at start-up (and from `partner-ingest migrate`); applying twice is
a no-op; a database migrated by a newer release is refused with a clear
message. What PostgreSQL adds is concurrency: many processes start at once
(N HTTP instances, M workers), so every migration transaction first takes a
transaction-scoped advisory lock named after the store's schema. One starter
migrates; the others wait on the lock, then find nothing left to do.
"""

from __future__ import annotations

from typing import Final

from psycopg import sql

from partner_ingest.adapters_out.migration_files import MigrationFile, numbered_files, refuse_newer
from partner_ingest.adapters_out.store_errors import SchemaTooNewError

from .connection import Connection, advisory_key

__all__ = ["SchemaTooNewError", "available_migrations", "current_version", "migrate"]

_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


def available_migrations() -> list[MigrationFile]:
    """Every migration shipped with this release, in order."""
    return numbered_files(__package__)


def _has_table(conn: Connection) -> bool:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return row is not None and bool(row[0])


def current_version(conn: Connection) -> int:
    """The newest migration applied in the session's schema (0 for a new one); creates nothing."""
    if not _has_table(conn):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: Connection, schema: str, *, target: int | None = None) -> list[int]:
    """Apply the missing migrations up to `target` (default: all) in `schema`; return those applied.

    `conn` must be idle (no transaction open) and search `schema` (see connection.make_pool).
    """
    migrations = available_migrations()
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    lock = advisory_key("migrate", schema)
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        exists = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (schema,)).fetchone()
        if exists is None or not exists[0]:
            # Only when missing: CREATE ... IF NOT EXISTS checks the CREATE privilege even when
            # the object exists, and a service role that only uses a migrated schema lacks it.
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        if not _has_table(conn):
            conn.execute(_TABLE)  # only when missing, for the same reason as the schema
        have = current_version(conn)
        refuse_newer(have, newest)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    if have >= target:
        # Every instance's start finds a current schema: one transaction, not three round
        # trips a migration to find each applied (as the SQLite runner, ADR 0042).
        return []
    applied = []
    for migration in migrations:
        if migration.version > target:
            break
        # Applied before the version was read: versions only grow, so no need to ask again under
        # the lock (a started service's usual case is all of them, one round trip instead of many).
        if migration.version <= have:
            continue
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            if current_version(conn) >= migration.version:
                conn.commit()
                continue
            # The whole file in one simple-protocol round trip (no parameters): PostgreSQL
            # splits the statements itself, dollar-quoted function bodies included.
            conn.execute(migration.sql.encode(), prepare=False)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        applied.append(migration.version)
    return applied
