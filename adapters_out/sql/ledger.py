"""`partner_feed_imports`: the ledger of processed feeds, on either engine (ADR 0040)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.idempotency import FeedFingerprint
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import VersionUse

from ._json import dump_json, load_json
from .dialect import Dialect
from .repository import SqlRepository, select_list

__all__ = [
    "COMPLETED_AT",
    "INSERT_IMPORT",
    "FeedImportRow",
    "Latest",
    "SqlFeedImportLedger",
    "feed_import",
    "fingerprint_text",
    "import_row",
]


class FeedImportRow(NamedTuple):
    """The columns a ledger entry is read from, in SELECT order."""

    id: str
    partner_id: str
    format: str
    version: int
    content_hash: str
    status: str
    report: str
    received_at: Any
    completed_at: Any
    idempotency_key: str | None
    job_id: str | None
    fingerprint: str | None


_SELECT: Final = select_list(FeedImportRow._fields)


def feed_import(row: FeedImportRow, d: Dialect) -> FeedImport:
    """The ledger entry a row holds."""
    return FeedImport(
        id=row.id,
        partner_id=row.partner_id,
        format=row.format,
        version=row.version,
        content_hash=row.content_hash,
        status=ImportStatus(row.status),
        report=IngestReport.from_json(load_json(row.report)),
        received_at=d.from_time(row.received_at),
        completed_at=d.from_time(row.completed_at),
        idempotency_key=row.idempotency_key,
        job_id=row.job_id,
        fingerprint=None
        if row.fingerprint is None
        else FeedFingerprint.from_json(load_json(row.fingerprint)),
    )


_APPLIED: Final = "WHERE partner_id = ? AND status = 'applied'"


class Latest(NamedTuple):
    """A partner's most recent applied import, as the repeat check reads it."""

    id: str
    fingerprint: str | None
    """`FeedFingerprint` as the JSON text stored."""
    completed_at: Any
    """As stored (the order of imports)."""


def _other_body(fingerprint: str, content_hash: str) -> bool:
    """Is the stored fingerprint (JSON text) surely of another body? A hash of letters and
    digits is written into the text as it is, so a fingerprint that lacks it cannot equal one
    with it: the common answer (a new feed is not a repeat) without parsing the JSON."""
    return content_hash.isascii() and content_hash.isalnum() and content_hash not in fingerprint


def fingerprint_text(entry: FeedImport) -> str | None:
    """The entry's fingerprint as the ledger stores it (JSON text), or None."""
    return None if entry.fingerprint is None else dump_json(entry.fingerprint.to_json())


INSERT_IMPORT: Final = (
    "INSERT INTO partner_feed_imports (id, partner_id, format, version, content_hash, status,"
    " received, created, updated, unchanged, rejected, report, idempotency_key, job_id,"
    " received_at, completed_at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""The insert of a ledger entry (parameters: `import_row`)."""
COMPLETED_AT: Final = 15
"""Where `import_row` holds the entry's completion time, as stored."""


def import_row(entry: FeedImport, fingerprint: str | None, d: Dialect) -> tuple[Any, ...]:
    """The parameters of `INSERT_IMPORT` for `entry`, whose fingerprint is stored as `fingerprint`."""
    counts = entry.report.counts
    return (
        entry.id,
        entry.partner_id,
        entry.format,
        entry.version,
        entry.content_hash,
        str(entry.status),
        counts.received,
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.rejected,
        dump_json(entry.report.to_json()),
        entry.idempotency_key,
        entry.job_id,
        d.time(entry.received_at),
        d.time(entry.completed_at),
        fingerprint,
    )


class SqlFeedImportLedger(SqlRepository):
    """Ledger entries of one connection's current transaction."""

    __slots__ = ()

    def add(self, entry: FeedImport) -> None:
        """Record a processed feed; ConflictError for a stored id or Idempotency-Key."""
        self._insert(entry, fingerprint_text(entry))

    def _insert(self, entry: FeedImport, fingerprint: str | None) -> None:
        """`add`, with the entry's fingerprint as stored (`fingerprint_text`)."""
        with self._d.conflicts(self._conn, f"feed import {entry.id!r}"):
            self._run(INSERT_IMPORT, import_row(entry, fingerprint, self._d))

    def get(self, feed_id: str) -> FeedImport | None:
        """One entry, or None."""
        row = self._run(f"SELECT {_SELECT} FROM partner_feed_imports WHERE id = ?", (feed_id,)).fetchone()
        return None if row is None else feed_import(FeedImportRow._make(row), self._d)

    def latest_applied(
        self, partner_id: str, *, matching: FeedFingerprint | None = None
    ) -> FeedImport | None:
        """The partner's most recent applied import; with `matching`, only if it has that fingerprint.

        Asked of every feed (is it a repeat?) and nearly always answered no: with `matching`,
        the latest entry's fingerprint is read and compared first, and its report (the
        costly part to read) only when they match."""
        if matching is not None:
            found = self._latest(partner_id)
            if (
                found is None
                or found.fingerprint is None
                or _other_body(found.fingerprint, matching.content_hash)
            ):
                return None
            if FeedFingerprint.from_json(load_json(found.fingerprint)) != matching:
                return None
            return self.get(found.id)
        entries = self._entries(_APPLIED, (partner_id,), limit=1)
        return entries[0] if entries else None

    def _latest(self, partner_id: str) -> Latest | None:
        """The partner's most recent applied import, as far as the repeat check needs it."""
        found = self._run(
            f"SELECT id, fingerprint, completed_at FROM partner_feed_imports {_APPLIED}"
            f" ORDER BY completed_at DESC, {self._d.insertion_order} DESC LIMIT 1",
            (partner_id,),
        ).fetchone()
        return None if found is None else Latest(*found)

    def recent(self, partner_id: str | None = None, *, limit: int = 50) -> list[FeedImport]:
        """Most recent first."""
        if partner_id is None:
            return self._entries("", (), limit=limit)
        return self._entries("WHERE partner_id = ?", (partner_id,), limit=limit)

    def _entries(self, where: str, params: tuple[Any, ...], *, limit: int) -> list[FeedImport]:
        # The insertion order is the tie-break between imports completed at the same moment.
        rows = self._run(
            f"SELECT {_SELECT} FROM partner_feed_imports {where}"
            f" ORDER BY completed_at DESC, {self._d.insertion_order} DESC LIMIT ?",
            (*params, limit),
        )
        return [feed_import(FeedImportRow._make(row), self._d) for row in rows]

    def version_usage(self, since: datetime | None = None) -> list[VersionUse]:
        """Per version and partner: imports since `since`, and the latest one's time."""
        where, params = ("", ()) if since is None else ("WHERE completed_at >= ?", (self._d.time(since),))
        rows = self._run(
            "SELECT version, partner_id, count(*), max(completed_at) FROM partner_feed_imports"
            f" {where} GROUP BY version, partner_id ORDER BY version, partner_id",
            params,
        )
        return [VersionUse(row[0], row[1], row[2], self._d.from_time(row[3])) for row in rows]

    def held(self, partner_id: str | None = None) -> list[FeedImport]:
        """Held imports, oldest first."""
        where, params = ("", ()) if partner_id is None else (" AND partner_id = ?", (partner_id,))
        rows = self._run(
            f"SELECT {_SELECT} FROM partner_feed_imports WHERE status = 'held'{where} ORDER BY completed_at, id",
            params,
        )
        return [feed_import(FeedImportRow._make(row), self._d) for row in rows]

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        """Held -> released or discarded, once (the WHERE makes a second operator's a no-op)."""
        cursor = self._run(
            "UPDATE partner_feed_imports SET status = ? WHERE id = ? AND status = 'held'",
            (str(status), feed_id),
        )
        return cursor.rowcount == 1
