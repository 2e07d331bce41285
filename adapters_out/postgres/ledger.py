"""`partner_feed_imports`: the ledger of processed feeds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.idempotency import FeedFingerprint
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import VersionUse

from ._codec import dump_json, load_json
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresFeedImportLedger"]

_COLUMNS: Final = (
    "id, partner_id, format, version, content_hash, status, report, received_at, completed_at,"
    " idempotency_key, job_id, fingerprint"
)
# `seq` is the insertion order: the tie-break between imports completed at the same moment.
_RECENT: Final = "ORDER BY completed_at DESC, seq DESC LIMIT %s"


def _entry(row: Sequence[Any]) -> FeedImport:
    return FeedImport(
        id=row[0],
        partner_id=row[1],
        format=row[2],
        version=row[3],
        content_hash=row[4],
        status=ImportStatus(row[5]),
        report=IngestReport.from_json(load_json(row[6])),
        received_at=row[7],
        completed_at=row[8],
        idempotency_key=row[9],
        job_id=row[10],
        fingerprint=None if row[11] is None else FeedFingerprint.from_json(load_json(row[11])),
    )


class PostgresFeedImportLedger:
    """Ledger entries of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, entry: FeedImport) -> None:
        """Record a processed feed; ConflictError for a stored id or Idempotency-Key."""
        counts = entry.report.counts
        with conflicts(self._conn, f"feed import {entry.id!r}"):
            self._conn.execute(
                "INSERT INTO partner_feed_imports (id, partner_id, format, version, content_hash, status,"
                " received, created, updated, unchanged, rejected, report, idempotency_key, job_id,"
                " received_at, completed_at, fingerprint) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
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
                    entry.received_at,
                    entry.completed_at,
                    None if entry.fingerprint is None else dump_json(entry.fingerprint.to_json()),
                ),
            )

    def get(self, feed_id: str) -> FeedImport | None:
        """One entry, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_feed_imports WHERE id = %s", (feed_id,)
        ).fetchone()
        return None if row is None else _entry(row)

    def latest_applied(self, partner_id: str) -> FeedImport | None:
        """The partner's most recent applied import."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_feed_imports WHERE partner_id = %s AND status = 'applied' {_RECENT}",
            (partner_id, 1),
        ).fetchone()
        return None if row is None else _entry(row)

    def recent(self, partner_id: str | None = None, *, limit: int = 50) -> list[FeedImport]:
        """Most recent first."""
        if partner_id is None:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM partner_feed_imports {_RECENT}", (limit,))
        else:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM partner_feed_imports WHERE partner_id = %s {_RECENT}",
                (partner_id, limit),
            )
        return [_entry(row) for row in rows]

    def version_usage(self, since: datetime | None = None) -> list[VersionUse]:
        """Per version and partner: imports since `since`, and the latest one's time."""
        rows = self._conn.execute(
            "SELECT version, partner_id, count(*), max(completed_at) FROM partner_feed_imports"
            " WHERE %s::timestamptz IS NULL OR completed_at >= %s"
            " GROUP BY version, partner_id ORDER BY version, partner_id",
            (since, since),
        )
        return [VersionUse(row[0], row[1], row[2], row[3]) for row in rows]

    def held(self, partner_id: str | None = None) -> list[FeedImport]:
        """Held imports, oldest first."""
        if partner_id is None:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM partner_feed_imports WHERE status = 'held' ORDER BY completed_at, id"
            ).fetchall()
        else:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM partner_feed_imports WHERE status = 'held' AND partner_id = %s"
                " ORDER BY completed_at, id",
                (partner_id,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        """Held -> released or discarded, once (the WHERE makes a second operator's a no-op)."""
        cursor = self._conn.execute(
            "UPDATE partner_feed_imports SET status = %s WHERE id = %s AND status = 'held'",
            (str(status), feed_id),
        )
        return cursor.rowcount == 1
