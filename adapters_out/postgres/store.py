"""The PostgreSQL store: a pool of sessions on one schema, units of work on top.

`PostgresStore(url)` checks that the server answers, migrates the schema (the
URL's `options=-csearch_path=...`, or `public`) and opens a connection pool;
`store.unit_of_work` is the UnitOfWorkFactory the use cases take. A unit of
work borrows one pooled connection for its whole life and runs one READ
COMMITTED transaction on it (READ ONLY for readers, which then never block a
writer). READ COMMITTED on purpose: a worker's long feed transaction and its
lease heartbeat touch the same job row, and a stricter level would fail the
feed's final `complete` with a serialization error instead of seeing the
heartbeat's committed lease.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout

from partner_ingest.adapters_out.sql.circuits import SqlCircuitRepository
from partner_ingest.adapters_out.sql.held_feeds import SqlHeldFeedRepository
from partner_ingest.adapters_out.sql.idempotency import SqlIdempotencyKeys
from partner_ingest.adapters_out.sql.ledger import SqlFeedImportLedger
from partner_ingest.adapters_out.sql.partners import SqlApiKeyRepository, SqlPartnerRepository
from partner_ingest.adapters_out.sql.web_sessions import SqlWebSessionRepository
from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository
from partner_ingest.adapters_out.store_errors import StoreBusyError, StoreUnreachableError

from .audit import PostgresAuditLog, PostgresStandaloneAuditLog
from .changes import PostgresChangeFeed, number_commit
from .connection import Connection, connect, describe_url, make_pool, schema_from_url
from .diagnostics import PostgresDiagnosticRepository
from .dialect import POSTGRES
from .jobs import PostgresJobRepository
from .migrate import current_version, migrate
from .products import SESSION_TABLES, PostgresFeedSkuRegister, PostgresProductRepository
from .schedules import PostgresScheduleRepository

__all__ = ["PostgresStore", "PostgresUnitOfWork"]

TEST_SCHEMA_PREFIX = "partner_ingest_test_"


def _one_line(error: psycopg.Error) -> str:
    """libpq's message, which spans lines (and never holds the password), on one line for the operator."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


class PostgresStore:
    """One schema of a PostgreSQL database, shared by every thread and process that opens it."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        migrate_on_open: bool = True,
    ) -> None:
        self.url = url
        self.schema = schema or schema_from_url(url) or "public"
        self.pool_timeout = pool_timeout
        self._where = f"PostgreSQL at {describe_url(url)}, schema {self.schema}"
        try:
            # A plain connection first: it fails fast with the server's own reason (a pool
            # would retry in the background and time out saying nothing), and migrates.
            with connect(url, self.schema, timeout=pool_timeout) as conn:
                if migrate_on_open:
                    migrate(conn, self.schema)
        except psycopg.OperationalError as error:
            raise StoreUnreachableError(f"cannot use {self._where}: {_one_line(error)}") from error
        self._pool = make_pool(
            url,
            self.schema,
            min_size=1,
            max_size=pool_size,
            timeout=pool_timeout,
            name=f"partner-ingest/{self.schema}",
            setup=SESSION_TABLES,
        )
        self._pool.open(wait=True, timeout=pool_timeout)
        self.audit_log = PostgresStandaloneAuditLog(self.connection)
        """The audit log outside any unit of work (each append commits on its own)."""

    @classmethod
    def for_tests(cls, url: str, *, pool_size: int = 4, pool_timeout: float = 30.0) -> PostgresStore:
        """A store in a new schema of its own (drop it with `drop_schema_and_close`)."""
        import secrets  # here: a service's start needs no OpenSSL for its store

        schema = TEST_SCHEMA_PREFIX + secrets.token_hex(6)
        return cls(url, schema=schema, pool_size=pool_size, pool_timeout=pool_timeout)

    def unit_of_work(self, *, read_only: bool = False) -> PostgresUnitOfWork:
        """A new unit of work (it takes a pooled connection when entered)."""
        return PostgresUnitOfWork(self, read_only=read_only)

    def migrate(self) -> list[int]:
        """Apply missing migrations; SchemaTooNewError for a schema from a newer release."""
        with self.connection() as conn:
            return migrate(conn, self.schema)

    def schema_version(self) -> int:
        """The newest migration applied to this store's schema."""
        with self.connection() as conn:
            return current_version(conn)

    def borrow(self) -> Connection:
        """A pooled connection, idle; StoreBusyError when none frees up within the pool timeout."""
        try:
            return self._pool.getconn()
        except PoolTimeout as error:
            raise StoreBusyError(
                f"no free connection to {self._where} within {self.pool_timeout:g} s "
                f"(pool of {self._pool.max_size}: raise PARTNER_INGEST_DATABASE_POOL_SIZE, or add capacity)"
            ) from error

    def unavailable(
        self, error: psycopg.OperationalError, *, lost: bool
    ) -> StoreBusyError | StoreUnreachableError:
        """What an operational error in a unit of work means to its caller: the connection
        was lost (the server restarted or is down), or the server could not serve in time
        (a deadlock, a serialization failure, a statement or lock timeout)."""
        if lost:
            return StoreUnreachableError(f"lost the connection to {self._where}: {_one_line(error)}")
        return StoreBusyError(f"{self._where} could not serve in time: {_one_line(error)}")

    def give_back(self, conn: Connection) -> None:
        """Return a borrowed connection (rolled back if a transaction was left open)."""
        self._pool.putconn(conn)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection for raw SQL (tests, benchmarks, tools): committed on success."""
        conn = self.borrow()
        try:
            yield conn
            conn.commit()
        except BaseException:
            if not conn.broken:
                conn.rollback()
            raise
        finally:
            self.give_back(conn)

    def close(self) -> None:
        """Close the pool and every connection in it (call once, at shutdown)."""
        self._pool.close()

    def drop_schema_and_close(self) -> None:
        """Tests: remove this store's schema and everything in it, then close."""
        try:
            with self.connection() as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
        finally:
            self.close()


class PostgresUnitOfWork:
    """One transaction on one pooled connection; leaving without commit() rolls back."""

    products: PostgresProductRepository
    feed_skus: PostgresFeedSkuRegister
    imports: SqlFeedImportLedger
    jobs: PostgresJobRepository
    partners: SqlPartnerRepository
    api_keys: SqlApiKeyRepository
    schedules: PostgresScheduleRepository
    audit: PostgresAuditLog
    circuits: SqlCircuitRepository
    webhooks: SqlWebhookRepository
    diagnostics: PostgresDiagnosticRepository
    web_sessions: SqlWebSessionRepository

    def __init__(self, store: PostgresStore, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn = self._store.borrow()
        try:
            # psycopg opens the transaction with the next statement: BEGIN READ ONLY for readers.
            conn.read_only = self.read_only
        except BaseException:
            self._store.give_back(conn)
            raise
        self._attach(conn)
        return self

    def _attach(self, conn: Connection) -> None:
        """Work on `conn` from now on (its repositories made for it)."""
        self._conn = conn
        self.products = PostgresProductRepository(conn)
        self.feed_skus = PostgresFeedSkuRegister(conn)
        self.imports = SqlFeedImportLedger(conn, POSTGRES)
        self.held_feeds = SqlHeldFeedRepository(conn, POSTGRES)
        self.changes = PostgresChangeFeed(conn)
        self.idempotency_keys = SqlIdempotencyKeys(conn, POSTGRES)
        self.jobs = PostgresJobRepository(conn)
        self.partners = SqlPartnerRepository(conn, POSTGRES)
        self.api_keys = SqlApiKeyRepository(conn, POSTGRES)
        self.schedules = PostgresScheduleRepository(conn)
        self.audit = PostgresAuditLog(conn)
        self.circuits = SqlCircuitRepository(conn, POSTGRES)
        self.webhooks = SqlWebhookRepository(conn, POSTGRES)
        self.diagnostics = PostgresDiagnosticRepository(conn)
        self.web_sessions = SqlWebSessionRepository(conn, POSTGRES)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        lost = conn.broken
        try:
            self._leave(conn, lost=lost)
        except psycopg.Error:
            if exc_type is None:  # never hide the error that is already leaving the block
                raise
        if isinstance(exc, psycopg.OperationalError):
            # The server went away (or could not serve in time) in the middle of this unit of
            # work, which is rolled back: the caller's answer is "retry", a 503, not a crash.
            raise self._store.unavailable(exc, lost=lost) from exc

    def _leave(self, conn: Connection, *, lost: bool) -> None:
        """Roll back what was not committed and give the connection back."""
        try:
            if not lost:
                conn.rollback()
                conn.read_only = None
        finally:
            self._store.give_back(conn)

    def commit(self) -> None:
        """Make every change durable, atomically."""
        conn = self._open()
        if self.read_only:
            conn.rollback()
            raise PermissionError("a read-only unit of work cannot commit changes")
        self.audit.flush()  # the chain lock is taken here, so it is held for the commit alone
        if self.products.wrote:
            number_commit(conn)  # last: the lock it takes is held only until this commit
        conn.commit()

    def rollback(self) -> None:
        """Discard every change not committed."""
        self._open().rollback()
        self.audit.discard()

    def _open(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use it in a with block)")
        return self._conn
