"""`partner_ingest_audit`: append-only (the database's own triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome

from ._codec import dump_json, load_json
from .connection import from_timestamp, timestamp

__all__ = ["SqliteAuditLog"]

_INSERT = (
    "INSERT INTO partner_ingest_audit (at, action, outcome, actor, partner_id, client, details)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _values(entry: AuditEntry) -> tuple[Any, ...]:
    return (
        timestamp(entry.at),
        str(entry.action),
        str(entry.outcome),
        entry.actor,
        entry.partner_id,
        entry.client,
        dump_json(dict(entry.details)),
    )


class SqliteAuditLog:
    """Audit entries written in one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        self._conn.execute(_INSERT, _values(entry))

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order."""
        if entries:
            self._conn.executemany(_INSERT, [_values(e) for e in entries])

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first; each filter uses its index."""
        where: list[str] = []
        params: list[Any] = []
        if query.since is not None:
            where.append("at >= ?")
            params.append(timestamp(query.since))
        if query.until is not None:
            where.append("at < ?")
            params.append(timestamp(query.until))
        if query.partner_id is not None:
            where.append("partner_id = ?")
            params.append(query.partner_id)
        if query.action is not None:
            where.append("action = ?")
            params.append(str(query.action))
        if query.outcome is not None:
            where.append("outcome = ?")
            params.append(str(query.outcome))
        if query.before_id is not None:
            where.append("id < ?")
            params.append(query.before_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            "SELECT id, at, action, outcome, actor, partner_id, client, details FROM partner_ingest_audit"
            f"{clause} ORDER BY id DESC LIMIT ?",
            (*params, query.limit),
        ).fetchall()
        return [
            AuditEntry(
                id=row[0],
                at=from_timestamp(row[1]),
                action=AuditAction(row[2]),
                outcome=Outcome(row[3]),
                actor=row[4],
                partner_id=row[5],
                client=row[6],
                details=load_json(row[7]),
            )
            for row in rows
        ]
