"""`partner_ingest_audit`: append-only (a trigger in the database refuses UPDATE, DELETE and TRUNCATE)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome

from ._codec import dump_json, load_json, storable_text
from .connection import Connection

__all__ = ["PostgresAuditLog", "PostgresStandaloneAuditLog"]

_INSERT: Final = (
    "INSERT INTO partner_ingest_audit (at, action, outcome, actor, partner_id, client, details)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_SELECT: Final = (
    "SELECT id, at, action, outcome, actor, partner_id, client, details FROM partner_ingest_audit"
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
    )


class PostgresAuditLog:
    """Audit entries written in one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        self._conn.execute(_INSERT, _values(entry))

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order (ids ascend with it: one executemany, one identity sequence)."""
        if entries:
            with self._conn.cursor() as cur:
                cur.executemany(_INSERT, [_values(e) for e in entries])

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first; each filter uses its index."""
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


class PostgresStandaloneAuditLog:
    """Audit appends outside a unit of work (a denied request has none): each commits on its own.

    It borrows its own pooled connection per call, so unlike SQLite's it may also be used while
    a unit of work is open on the same thread: the entry then commits independently of that unit.
    """

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._connection = connection

    def append(self, entry: AuditEntry) -> None:
        """Add one entry in its own short transaction."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in their own short transaction."""
        if entries:
            with self._connection() as conn:
                PostgresAuditLog(conn).append_many(entries)

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""
        with self._connection() as conn:
            return PostgresAuditLog(conn).query(query)
