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

from partner_ingest.adapters_out.sql.audit import PendingAuditTrail, SqlAuditTrail
from partner_ingest.domain.model.audit import AuditEntry

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


class PendingSqliteAuditLog(PendingAuditTrail):
    """A writer unit's audit entries, kept until the unit is kept (`take`) or undone (`discard`):
    its batch appends them, with its other members', at its commit (ADR 0043). SQLite's writer
    holds the one write lock, so nothing else is needed before a write."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, SQLITE)
