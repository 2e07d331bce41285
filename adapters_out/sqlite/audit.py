"""`partner_ingest_audit`: append-only (the database's own triggers refuse UPDATE and DELETE)
and hash-chained (ADR 0028), so that an owner of the file who drops the triggers still leaves a trace.

Appends run in a writer's transaction (BEGIN IMMEDIATE holds SQLite's one write lock), so
reading the newest hash and inserting after it cannot interleave with another appender.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.audit_chain import GENESIS, AuditLink, content_of

from ._codec import dump_json, load_json
from .connection import from_timestamp, stored_link, timestamp

__all__ = ["SqliteAuditLog", "newest_hash"]

_INSERT = (
    "INSERT INTO partner_ingest_audit"
    " (at, action, outcome, actor, partner_id, client, details, previous_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINKS = (
    "SELECT id, previous_hash, hash, at, action, outcome, actor, partner_id, client, details"
    " FROM partner_ingest_audit WHERE id > ? ORDER BY id LIMIT ?"
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


def newest_hash(conn: sqlite3.Connection) -> str:
    """The hash the next entry chains to."""
    row = conn.execute("SELECT hash FROM partner_ingest_audit ORDER BY id DESC LIMIT 1").fetchone()
    return GENESIS if row is None or row[0] is None else str(row[0])


class SqliteAuditLog:
    """Audit entries written in one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order, each chained to the one before."""
        if not entries:
            return
        previous = newest_hash(self._conn)
        rows = []
        for entry in entries:
            values = _values(entry)
            current = stored_link(previous, *values)
            rows.append((*values, previous, current))
            previous = current
        self._conn.executemany(_INSERT, rows)

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first, the content recomputed from the stored columns."""
        rows = self._conn.execute(_LINKS, (after_id, limit)).fetchall()
        return [
            AuditLink(
                row[0],
                row[1],
                row[2],
                content_of(row[3], row[4], row[5], row[6], row[7], row[8], row[9]),
            )
            for row in rows
        ]

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
            "SELECT id, at, action, outcome, actor, partner_id, client, details, previous_hash, hash"
            " FROM partner_ingest_audit"
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
                previous_hash=row[8],
                hash=row[9],
            )
            for row in rows
        ]
