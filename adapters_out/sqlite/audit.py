"""`partner_ingest_audit` on SQLite: append-only (the database's own triggers refuse UPDATE and DELETE)
and hash-chained (ADR 0028), so that an owner of the file who drops the triggers still leaves a trace.

Appends run in a writer's transaction (BEGIN IMMEDIATE holds SQLite's one write lock), so
reading the newest hash and inserting after it cannot interleave with another appender:
entries are written at once. A unit of work of the writer thread (ADR 0043) keeps its entries
in memory instead and hands them to its batch when it is kept; the batch appends every kept
unit's at its commit, reading the chain's newest hash once for all of them. Rows, chain and
reads are shared (`adapters_out/sql/audit.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from partner_ingest.adapters_out.sql.audit import SqlAuditTrail
from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
from partner_ingest.domain.model.audit_chain import AuditLink

from .dialect import SQLITE

__all__ = ["PendingSqliteAuditLog", "SqliteAuditLog"]


class SqliteAuditLog(SqlAuditTrail):
    """Audit entries written in one connection's current transaction, as they are appended."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, SQLITE)

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        self._write([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order, each chained to the one before."""
        if entries:
            self._write(entries)


class PendingSqliteAuditLog(SqliteAuditLog):
    """A writer unit's audit entries, kept in memory until the unit is kept (`take`) or undone
    (`discard`): its batch appends them, with its other members', at its commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._pending: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Add one entry (written at the batch's commit)."""
        self._pending.append(entry)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order (written at the batch's commit)."""
        self._pending.extend(entries)

    def flush(self) -> None:
        """Write the pending entries now, in the unit's savepoint (a read of the trail sees them)."""
        if self._pending:
            self._write(self._pending)
            self._pending.clear()

    def take(self) -> list[AuditEntry]:
        """The pending entries, no longer pending, for the batch the unit is kept in."""
        pending, self._pending = self._pending, []
        return pending

    def discard(self) -> None:
        """Forget the pending entries (the unit they belonged to was undone)."""
        self._pending.clear()

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first (pending entries written first)."""
        self.flush()
        return super().links(after_id, limit)

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first (pending entries written first)."""
        self.flush()
        return super().query(query)
