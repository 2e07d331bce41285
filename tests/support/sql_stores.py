"""The two SQL stores behind one test interface, so that a port-level property is tested once.

A `SqlKit` is one empty database of one kind (a SQLite file, or a PostgreSQL
schema of its own) with what a test needs beside the store: raw SQL outside
the store, bare migrations, the URL a child process is given, and the error
the database raises when it refuses a write to the audit table.

    with sql_kit("postgres", tmp_path) as kit:
        kit.migrate_to(1)
        kit.execute("INSERT INTO partner ...")
        store = kit.open_store()
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Protocol

from partner_ingest.adapters_out.sqlite import connection as sqlite_connection
from partner_ingest.adapters_out.sqlite import migrate as sqlite_migrate
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.ports import AuditLog, UnitOfWorkFactory

from .postgres import postgres_database
from .sqlite_files import migrated_database

__all__ = ["KINDS", "SqlKit", "SqlStore", "sql_kit"]

KINDS = ["sqlite", "postgres"]


class SqlStore(Protocol):
    """What SqliteStore and PostgresStore both offer."""

    @property
    def unit_of_work(self) -> UnitOfWorkFactory: ...
    @property
    def audit_log(self) -> AuditLog: ...
    def schema_version(self) -> int: ...
    def migrate(self) -> list[int]: ...
    def close(self) -> None: ...


class SqlKit(Protocol):
    """One fresh database of one kind, and how to reach it from outside the store."""

    kind: str
    url: str
    """PARTNER_INGEST_DATABASE_URL for this database (child processes, bootstrap.build)."""
    append_only_error: type[Exception]
    """What the database raises when a statement tries to change the audit trail."""
    newest: int
    """The newest migration this release ships for this kind of store."""

    def open_store(self) -> SqlStore:
        """A store on this database (it migrates on open)."""
        ...

    def migrated_store(self) -> SqlStore:
        """A store on this database, still untouched, as a store finds it once migrated to the newest.

        For a test about what the migrated schema does (its triggers, its constraints), not
        about migrating: a SQLite file is written as a copy of one migrated once in this
        process (support.sqlite_files), PostgreSQL migrates the schema on open.
        """
        ...

    def migrate_to(self, version: int | None = None) -> list[int]:
        """Apply the migrations up to `version` (default: all) without a store; those applied."""
        ...

    def execute(self, *statements: str) -> None:
        """Run raw SQL statements (no parameters) in one transaction, committed."""
        ...

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        """The rows of a raw query."""
        ...

    def tables(self) -> set[str]:
        """The names of the tables in this database (or schema)."""
        ...


class _SqliteKit:
    kind = "sqlite"
    append_only_error: type[Exception] = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.newest = sqlite_migrate.available_migrations()[-1].version

    def open_store(self) -> SqlStore:
        return SqliteStore(self.path)

    def migrated_store(self) -> SqlStore:
        return SqliteStore(migrated_database(self.path))

    def migrate_to(self, version: int | None = None) -> list[int]:
        with closing(sqlite_connection.connect(self.path)) as conn:
            return sqlite_migrate.migrate(conn, target=version)

    def execute(self, *statements: str) -> None:
        with closing(sqlite_connection.connect(self.path)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements:
                    conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        with closing(sqlite_connection.connect(self.path)) as conn:
            return [tuple(row) for row in conn.execute(statement)]

    def tables(self) -> set[str]:
        return {str(name) for (name,) in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


class _PostgresKit:
    kind = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        from partner_ingest.adapters_out.postgres.connection import schema_from_url
        from partner_ingest.adapters_out.postgres.migrate import available_migrations

        self.url = url
        self.newest = available_migrations()[-1].version
        schema = schema_from_url(url)
        assert schema is not None
        self.schema = schema
        self.append_only_error: type[Exception] = psycopg.errors.InsufficientPrivilege

    def open_store(self) -> SqlStore:
        from partner_ingest.adapters_out.postgres.store import PostgresStore

        return PostgresStore(self.url, pool_size=4)

    def migrated_store(self) -> SqlStore:
        return self.open_store()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from partner_ingest.adapters_out.postgres.connection import connect

        with connect(self.url, self.schema, timeout=10) as conn:
            yield conn

    def migrate_to(self, version: int | None = None) -> list[int]:
        from partner_ingest.adapters_out.postgres.migrate import migrate

        with self._connection() as conn:
            return migrate(conn, self.schema, target=version)

    def execute(self, *statements: str) -> None:
        with self._connection() as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return [tuple(row) for row in conn.execute(statement)]

    def tables(self) -> set[str]:
        rows = self.query(f"SELECT tablename FROM pg_tables WHERE schemaname = '{self.schema}'")
        return {str(name) for (name,) in rows}


@contextmanager
def sql_kit(kind: str, tmp_path: Path) -> Iterator[SqlKit]:
    """A fresh database of `kind` ("sqlite" or "postgres"), removed afterwards."""
    if kind == "sqlite":
        yield _SqliteKit(tmp_path / "kit.db")
    elif kind == "postgres":
        with postgres_database() as url:
            yield _PostgresKit(url)
    else:
        raise ValueError(f"unknown store kind {kind!r}")
