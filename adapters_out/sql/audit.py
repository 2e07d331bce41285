"""`partner_ingest_audit`: the append-only, hash-chained trail's rows, chain and reads (ADR 0028, ADR 0040).

Both engines store the same columns, chain an entry to the newest stored hash the same
way, and read the trail back alike. When they append differs, for a reason: SQLite's
writer holds the database's one write lock for its whole transaction, so it appends at
once (`adapters_out/sqlite/audit.py`); PostgreSQL has many writers and appends at commit
under an advisory lock, so that the lock is held for the commit alone
(`adapters_out/postgres/audit.py`). Entries that wait for a commit (every PostgreSQL unit
of work, a unit of SQLite's writer thread, ADR 0043) are kept by `PendingAuditTrail`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.audit_chain import GENESIS, AuditLink, content_of, link_hash

from ._json import dump_json, load_json
from .dialect import Dialect, SqlConnection
from .repository import SqlRepository

__all__ = ["AuditEntryRow", "PendingAuditTrail", "SqlAuditTrail", "audit_entry"]


class AuditEntryRow(NamedTuple):
    """The columns an entry is read from, in SELECT order."""

    id: int
    at: Any
    action: str
    outcome: str
    actor: str
    partner_id: str | None
    client: str | None
    details: str
    previous_hash: str | None
    hash: str | None


_SELECT: Final = f"SELECT {', '.join(AuditEntryRow._fields)} FROM partner_ingest_audit"
# The stored values a link's content covers, in content order.
_CONTENT: Final = ("at", "action", "outcome", "actor", "partner_id", "client", "details")
_INSERT: Final = (
    f"INSERT INTO partner_ingest_audit ({', '.join(_CONTENT)}, previous_hash, hash)"
    f" VALUES ({', '.join('?' * (len(_CONTENT) + 2))})"
)
_LINKS: Final = f"SELECT id, previous_hash, hash, {', '.join(_CONTENT)} FROM partner_ingest_audit WHERE id > ? ORDER BY id LIMIT ?"


def audit_entry(row: AuditEntryRow, d: Dialect) -> AuditEntry:
    """The entry a row holds."""
    return AuditEntry(
        id=row.id,
        at=d.from_time(row.at),
        action=AuditAction(row.action),
        outcome=Outcome(row.outcome),
        actor=row.actor,
        partner_id=row.partner_id,
        client=row.client,
        details=load_json(row.details),
        previous_hash=row.previous_hash,
        hash=row.hash,
    )


def _stored(entry: AuditEntry, d: Dialect) -> tuple[Any, ...]:
    # actor and client come from callers (a header, an address), not from validated input:
    # an audit write must never fail on what it records.
    return (
        d.time(entry.at),
        str(entry.action),
        str(entry.outcome),
        d.text(entry.actor),
        None if entry.partner_id is None else d.text(entry.partner_id),
        None if entry.client is None else d.text(entry.client),
        dump_json(dict(entry.details)),
    )


class SqlAuditTrail(SqlRepository):
    """The trail on one connection: chained writes (when is the engine's) and reads."""

    __slots__ = ()

    def _newest_hash(self) -> str:
        """The hash the next entry chains to."""
        row = self._run("SELECT hash FROM partner_ingest_audit ORDER BY id DESC LIMIT 1").fetchone()
        return GENESIS if row is None or row[0] is None else str(row[0])

    def _write(self, entries: Sequence[AuditEntry]) -> None:
        """Insert entries in order, each chained to the one before; the caller keeps other appenders out."""
        d = self._d
        previous = self._newest_hash()
        rows = []
        for entry in entries:
            stored = _stored(entry, d)
            current = link_hash(previous, content_of(d.chain_time(stored[0]), *stored[1:]))
            rows.append((*stored, previous, current))
            previous = current
        d.many(self._conn, _INSERT, rows)

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first, the content recomputed from the stored columns."""
        rows = self._run(_LINKS, (after_id, limit)).fetchall()
        d = self._d
        return [AuditLink(row[0], row[1], row[2], content_of(d.chain_time(row[3]), *row[4:])) for row in rows]

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first; each filter uses its index."""
        d = self._d
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("at >= ?", None if query.since is None else d.time(query.since)),
            ("at < ?", None if query.until is None else d.time(query.until)),
            ("partner_id = ?", query.partner_id),
            ("action = ?", None if query.action is None else str(query.action)),
            ("outcome = ?", None if query.outcome is None else str(query.outcome)),
            ("id < ?", query.before_id),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._run(f"{_SELECT}{condition} ORDER BY id DESC LIMIT ?", (*params, query.limit)).fetchall()
        return [audit_entry(AuditEntryRow._make(row), d) for row in rows]


class PendingAuditTrail(SqlAuditTrail):
    """Entries kept in memory until `flush()` writes them in the current transaction, or a unit of
    work kept in a batch hands them on (`take`) for the batch to write at its commit. A read
    flushes first, so it sees its own unit's entries."""

    __slots__ = ("_pending",)

    def __init__(self, conn: SqlConnection, dialect: Dialect) -> None:
        super().__init__(conn, dialect)
        self._pending: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Add one entry (written at `flush`)."""
        self._pending.append(entry)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order (written at `flush`)."""
        self._pending.extend(entries)

    def flush(self) -> None:
        """Write the pending entries, chained, in the current transaction."""
        if not self._pending:
            return
        self._before_write()
        self._write(self._pending)
        self._pending.clear()

    def _before_write(self) -> None:
        """What the engine must do before the chain's newest hash is read (keep other appenders out)."""

    def take(self) -> list[AuditEntry]:
        """The pending entries, no longer pending, for the batch their unit of work is kept in."""
        pending, self._pending = self._pending, []
        return pending

    def discard(self) -> None:
        """Forget the pending entries (the unit of work they belonged to was undone)."""
        self._pending.clear()

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first (pending entries written first)."""
        self.flush()
        return super().links(after_id, limit)

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first (pending entries written first)."""
        self.flush()
        return super().query(query)
