"""`partner_ingest_audit` on PostgreSQL: append-only (a trigger in the database refuses UPDATE, DELETE
and TRUNCATE) and hash-chained (ADR 0028); rows, chain and reads are shared (`adapters_out/sql/audit.py`).

Many processes append at once, and two appenders that read the same newest hash would fork
the chain. So an append first takes a transaction-scoped advisory lock named after the
schema, reads the newest hash and inserts after it: appenders queue on the lock, and ids,
chain order and commit order agree. Inside a unit of work the entries wait in memory until
its commit, so the lock is held for the commit alone, never through a long feed transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Final

import attrs

from partner_ingest.adapters_out.sql.audit import PendingAuditTrail
from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
from partner_ingest.domain.model.audit_chain import AuditLink

from .connection import Connection
from .dialect import POSTGRES

__all__ = ["PostgresAuditLog", "PostgresStandaloneAuditLog"]

_LOCK: Final = (
    "SELECT pg_advisory_xact_lock(hashtextextended('partner_ingest_audit_chain.' || current_schema(), 0))"
)


class PostgresAuditLog(PendingAuditTrail):
    """Audit entries written in one connection's current transaction, at `flush()` (which the
    unit of work calls as it commits), under the chain lock (held until the transaction ends):
    ids ascend with the entries, one appender at a time."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, POSTGRES)

    def _before_write(self) -> None:
        self._run(_LOCK)


@attrs.define
class _Waiter:
    entries: Sequence[AuditEntry]
    done: threading.Event = attrs.Factory(threading.Event)
    error: BaseException | None = None
    leads: bool = False
    """Set instead of `error` when this waiter is to write the next batch itself."""


class PostgresStandaloneAuditLog:
    """Audit appends outside a unit of work (a denied request has none): committed before returning.

    It borrows its own pooled connection, so unlike SQLite's it may also be used while a unit
    of work is open on the same thread: the entry then commits independently of that unit.

    Appends serialize on the chain lock, which is held through the commit's flush to disk, so
    one at a time would cap a process at one commit latency per entry (a flood of failed
    authentications would queue every other audit write behind it). Appends of concurrent
    threads are therefore committed together (group commit): the first caller writes what has
    queued up meanwhile, in one transaction, and every caller returns once its own entries are
    durable, or raises the batch's error.
    """

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._connection = connection
        self._mutex = threading.Lock()
        self._queue: list[_Waiter] = []
        self._writing = False

    def append(self, entry: AuditEntry) -> None:
        """Add one entry in its own short transaction."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries, committed (with those of concurrent callers) before this returns."""
        if not entries:
            return
        waiter = _Waiter(entries)
        with self._mutex:
            self._queue.append(waiter)
            waiter.leads = not self._writing
            self._writing = True
        if not waiter.leads:
            waiter.done.wait()
        if waiter.leads:
            self._write_batch()
        if waiter.error is not None:
            raise waiter.error

    def _write_batch(self) -> None:
        """Write every queued append in one transaction, then hand the writing on (or stop)."""
        with self._mutex:
            batch, self._queue = self._queue, []
        error: BaseException | None = None
        try:
            with self._connection() as conn:
                log = PostgresAuditLog(conn)
                for waiter in batch:
                    log.append_many(waiter.entries)
                log.flush()
        except BaseException as failure:  # every caller of the batch gets it, each re-raises
            error = failure
        with self._mutex:
            successor = self._queue[0] if self._queue else None
            self._writing = successor is not None
        for waiter in batch:
            waiter.error = error
            waiter.leads = False
            waiter.done.set()
        if successor is not None:
            successor.leads = True
            successor.done.set()

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""
        with self._connection() as conn:
            return PostgresAuditLog(conn).query(query)

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first."""
        with self._connection() as conn:
            return PostgresAuditLog(conn).links(after_id, limit)
