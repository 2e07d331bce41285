"""`partner_ingest_audit`: append-only (a trigger in the database refuses UPDATE, DELETE and TRUNCATE)
and hash-chained (ADR 0028).

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
from typing import Any, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.audit_chain import GENESIS, AuditLink, content_of, link_hash, time_text

from ._codec import dump_json, load_json, storable_text
from .connection import Connection

__all__ = ["PostgresAuditLog", "PostgresStandaloneAuditLog"]

_INSERT: Final = (
    "INSERT INTO partner_ingest_audit"
    " (at, action, outcome, actor, partner_id, client, details, previous_hash, hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_LOCK: Final = (
    "SELECT pg_advisory_xact_lock(hashtextextended('partner_ingest_audit_chain.' || current_schema(), 0))"
)
_NEWEST: Final = "SELECT hash FROM partner_ingest_audit ORDER BY id DESC LIMIT 1"
_LINKS: Final = (
    "SELECT id, previous_hash, hash, at, action, outcome, actor, partner_id, client, details"
    " FROM partner_ingest_audit WHERE id > %s ORDER BY id LIMIT %s"
)
_SELECT: Final = (
    "SELECT id, at, action, outcome, actor, partner_id, client, details, previous_hash, hash"
    " FROM partner_ingest_audit"
)


def _values(entry: AuditEntry) -> tuple[Any, ...]:
    # actor and client come from callers (a header, an address), not from validated input:
    # an audit write must never fail on what it records.
    return (
        entry.at,
        str(entry.action),
        str(entry.outcome),
        storable_text(entry.actor),
        None if entry.partner_id is None else storable_text(entry.partner_id),
        None if entry.client is None else storable_text(entry.client),
        dump_json(dict(entry.details)),
    )


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        id=row[0],
        at=row[1],
        action=AuditAction(row[2]),
        outcome=Outcome(row[3]),
        actor=row[4],
        partner_id=row[5],
        client=row[6],
        details=load_json(row[7]),
        previous_hash=row[8],
        hash=row[9],
    )


class PostgresAuditLog:
    """Audit entries written in one connection's current transaction, at `flush()` (which the
    unit of work calls as it commits)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pending: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        self._pending.append(entry)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order."""
        self._pending.extend(entries)

    def flush(self) -> None:
        """Write the pending entries, chained, under the chain lock (held until the transaction ends).

        Ids ascend with the entries: one executemany, one identity sequence, one appender at a time.
        """
        if not self._pending:
            return
        self._conn.execute(_LOCK)
        row = self._conn.execute(_NEWEST).fetchone()
        previous = GENESIS if row is None or row[0] is None else str(row[0])
        rows = []
        for entry in self._pending:
            values = _values(entry)
            current = link_hash(previous, content_of(time_text(entry.at), *values[1:]))
            rows.append((*values, previous, current))
            previous = current
        with self._conn.cursor() as cur:
            cur.executemany(_INSERT, rows)
        self._pending.clear()

    def discard(self) -> None:
        """Forget the pending entries (the transaction they belonged to was rolled back)."""
        self._pending.clear()

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first, the content recomputed from the stored columns."""
        self.flush()
        rows = self._conn.execute(_LINKS, (after_id, limit)).fetchall()
        return [AuditLink(row[0], row[1], row[2], content_of(time_text(row[3]), *row[4:])) for row in rows]

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first; each filter uses its index."""
        self.flush()
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("at >= %s", query.since),
            ("at < %s", query.until),
            ("partner_id = %s", query.partner_id),
            ("action = %s", None if query.action is None else str(query.action)),
            ("outcome = %s", None if query.outcome is None else str(query.outcome)),
            ("id < %s", query.before_id),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(f"{_SELECT}{condition} ORDER BY id DESC LIMIT %s", (*params, query.limit))
        return [_entry(row) for row in rows]


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
