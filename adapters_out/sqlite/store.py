"""The SQLite store: one database file, a connection per thread, units of work on top.

`SqliteStore(path)` migrates the file on open and hands out units of work
(`store.unit_of_work`, the UnitOfWorkFactory the use cases take). Writers
begin with BEGIN IMMEDIATE, waiting up to the busy timeout for the lock, and
retry that a bounded number of times, so concurrent threads and processes
(HTTP ingest, workers, the scheduler) never see "database is locked".
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from partner_ingest.adapters_out.store_errors import StoreBusyError, StoreFullError

from .connection import connect
from .dialect import SQLITE
from .migrate import current_version, migrate

if TYPE_CHECKING:
    from partner_ingest.adapters_out.sql.circuits import SqlCircuitRepository
    from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository
    from partner_ingest.adapters_out.sql.held_feeds import SqlHeldFeedRepository
    from partner_ingest.adapters_out.sql.idempotency import SqlIdempotencyKeys
    from partner_ingest.adapters_out.sql.ledger import SqlFeedImportLedger
    from partner_ingest.adapters_out.sql.partners import SqlApiKeyRepository, SqlPartnerRepository
    from partner_ingest.adapters_out.sql.schedules import SqlScheduleRepository
    from partner_ingest.adapters_out.sql.web_sessions import SqlWebSessionRepository
    from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository
    from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
    from partner_ingest.domain.model.audit_chain import AuditLink
    from partner_ingest.ports import AuditLog

    from .audit import SqliteAuditLog
    from .changes import SqliteChangeFeed
    from .jobs import SqliteJobRepository
    from .products import SqliteFeedSkuRegister, SqliteProductRepository

__all__ = ["SqliteStore", "SqliteUnitOfWork", "StandaloneAuditLog", "StoreBusyError", "made_once"]

_T = TypeVar("_T")


class made_once(Generic[_T]):
    """A unit of work's repository, made on first use and then kept in the instance's dict, where
    later reads find it as a plain attribute: `functools.cached_property` without the lock it
    takes on every first read before Python 3.12 (a unit is one thread's; every feed the writer
    runs opens one and reads several repositories of it)."""

    def __init__(self, make: Callable[[Any], _T]) -> None:
        self._make = make
        self._name = make.__name__
        self.__doc__ = make.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> made_once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> made_once[_T] | _T:
        if instance is None:
            return self
        made = instance.__dict__[self._name] = self._make(instance)
        return made


def _is_locked(error: sqlite3.OperationalError) -> bool:
    message = str(error)
    return "locked" in message or "busy" in message


def is_full(error: BaseException | None) -> bool:
    """SQLITE_FULL: the file system (or the page limit) has no room for the write."""
    return isinstance(error, sqlite3.OperationalError) and (
        getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(error)
    )


def full_error(path: str, error: BaseException) -> StoreFullError:
    """What a caller gets for a write that found the disk full (the operator's detail in the message)."""
    return StoreFullError(f"the database {path} ran out of space: {error}")


class SqliteStore:
    """A database file shared by every thread (and process) that opens it."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        lock_retries: int = 5,
        migrate_on_open: bool = True,
    ) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self.lock_retries = lock_retries
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if migrate_on_open:
            self.migrate()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, busy_timeout=self.busy_timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def migrate(self) -> list[int]:
        """Apply missing migrations; SchemaTooNewError for a database from a newer release."""
        return self._retrying(lambda: migrate(self.connection()))

    def schema_version(self) -> int:
        """The newest migration applied."""
        return current_version(self.connection())

    def unit_of_work(self, *, read_only: bool = False) -> SqliteUnitOfWork:
        """A new unit of work on this thread's connection."""
        return SqliteUnitOfWork(self, read_only=read_only)

    @property
    def audit_log(self) -> StandaloneAuditLog:
        """The audit log outside any unit of work (each append commits on its own)."""
        return StandaloneAuditLog(self)

    def begin(self, conn: sqlite3.Connection, *, read_only: bool) -> None:
        """BEGIN (readers) or BEGIN IMMEDIATE (writers), retried while the database is locked."""
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        self._retrying(lambda: conn.execute(statement))

    def _retrying(self, action: Callable[[], _T]) -> _T:
        for attempt in range(self.lock_retries + 1):
            try:
                return action()
            except sqlite3.OperationalError as error:
                if not _is_locked(error) or attempt == self.lock_retries:
                    if _is_locked(error):
                        raise StoreBusyError(
                            f"the database {self.path} stayed locked by other writers for "
                            f"{(self.lock_retries + 1) * self.busy_timeout:.0f} s"
                        ) from error
                    raise
                import random  # only when the database is locked: no start-up pays for it (ADR 0042)

                time.sleep(random.uniform(0.01, 0.1) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection this store opened (call once, at shutdown)."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class SqliteUnitOfWork:
    """One transaction on one connection; leaving without commit() rolls back."""

    def __init__(
        self, store: SqliteStore, *, read_only: bool = False, connection: sqlite3.Connection | None = None
    ) -> None:
        self._store = store
        self.read_only = read_only
        self.conn = connection if connection is not None else store.connection()
        # The repositories are made on first use: a unit of work uses a few of its fifteen,
        # and a small feed over HTTP opened two per request. Each is imported on first use
        # too, with the model it maps: opening the store (every command's start) needs none.

    @made_once
    def products(self) -> SqliteProductRepository:
        from .products import SqliteProductRepository

        return SqliteProductRepository(self.conn)

    @made_once
    def feed_skus(self) -> SqliteFeedSkuRegister:
        from .products import SqliteFeedSkuRegister

        return SqliteFeedSkuRegister(self.conn)

    @made_once
    def imports(self) -> SqlFeedImportLedger:
        from partner_ingest.adapters_out.sql.ledger import SqlFeedImportLedger

        return SqlFeedImportLedger(self.conn, SQLITE)

    @made_once
    def held_feeds(self) -> SqlHeldFeedRepository:
        from partner_ingest.adapters_out.sql.held_feeds import SqlHeldFeedRepository

        return SqlHeldFeedRepository(self.conn, SQLITE)

    @made_once
    def changes(self) -> SqliteChangeFeed:
        from .changes import SqliteChangeFeed

        return SqliteChangeFeed(self.conn)

    @made_once
    def idempotency_keys(self) -> SqlIdempotencyKeys:
        from partner_ingest.adapters_out.sql.idempotency import SqlIdempotencyKeys

        return SqlIdempotencyKeys(self.conn, SQLITE)

    @made_once
    def jobs(self) -> SqliteJobRepository:
        from .jobs import SqliteJobRepository

        return SqliteJobRepository(self.conn)

    @made_once
    def partners(self) -> SqlPartnerRepository:
        from partner_ingest.adapters_out.sql.partners import SqlPartnerRepository

        return SqlPartnerRepository(self.conn, SQLITE)

    @made_once
    def api_keys(self) -> SqlApiKeyRepository:
        from partner_ingest.adapters_out.sql.partners import SqlApiKeyRepository

        return SqlApiKeyRepository(self.conn, SQLITE)

    @made_once
    def schedules(self) -> SqlScheduleRepository:
        from partner_ingest.adapters_out.sql.schedules import SqlScheduleRepository

        return SqlScheduleRepository(self.conn, SQLITE)

    @made_once
    def audit(self) -> AuditLog:
        """Entries written at once: this unit holds SQLite's one write lock (the writer thread's
        units keep theirs for the batch's commit instead, adapters_out/sqlite/writer.py)."""
        from .audit import SqliteAuditLog

        return SqliteAuditLog(self.conn)

    @made_once
    def circuits(self) -> SqlCircuitRepository:
        from partner_ingest.adapters_out.sql.circuits import SqlCircuitRepository

        return SqlCircuitRepository(self.conn, SQLITE)

    @made_once
    def webhooks(self) -> SqlWebhookRepository:
        from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository

        return SqlWebhookRepository(self.conn, SQLITE)

    @made_once
    def diagnostics(self) -> SqlDiagnosticRepository:
        from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository

        return SqlDiagnosticRepository(self.conn, SQLITE)

    @made_once
    def web_sessions(self) -> SqlWebSessionRepository:
        from partner_ingest.adapters_out.sql.web_sessions import SqlWebSessionRepository

        return SqlWebSessionRepository(self.conn, SQLITE)

    def __enter__(self) -> Self:
        if self.conn.in_transaction:
            raise RuntimeError("this thread already has a unit of work open on its connection")
        self._store.begin(self.conn, read_only=self.read_only)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        if is_full(exc):
            # Rolled back whole: nothing half-written. The caller's answer is "retry later" (503).
            raise full_error(self._store.path, exc) from exc  # type: ignore[arg-type]

    def commit(self) -> None:
        """Make every change durable, atomically."""
        if self.read_only:
            self.rollback()
            raise PermissionError("a read-only unit of work cannot commit changes")
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Discard every change not committed."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class StandaloneAuditLog:
    """Audit appends outside a unit of work (a denied request has none): each one commits.

    Each call works through a `SqliteAuditLog` on this thread's connection, imported on the
    first call: every command is handed this log, and one that writes no audit row does not
    load the audit rows, the chain and its hash (OpenSSL)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    @staticmethod
    def _log(conn: sqlite3.Connection) -> SqliteAuditLog:
        from .audit import SqliteAuditLog

        return SqliteAuditLog(conn)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in their own short transaction."""
        conn = self._store.connection()
        if conn.in_transaction:
            raise RuntimeError("inside a unit of work: append to uow.audit instead")
        self._store.begin(conn, read_only=False)
        try:
            self._log(conn).append_many(entries)
            conn.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.OperationalError):  # SQLITE_FULL may have rolled it back already
                conn.execute("ROLLBACK")
            if is_full(error):
                raise full_error(self._store.path, error) from error
            raise

    def append(self, entry: AuditEntry) -> None:
        """Add one entry in its own short transaction."""
        self.append_many([entry])

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first, read on this thread's connection."""
        return self._log(self._store.connection()).query(query)

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first, read on this thread's connection."""
        return self._log(self._store.connection()).links(after_id, limit)
