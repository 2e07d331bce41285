"""`partner_ingest_diagnostics`: every error of every rejected item, written a batch per statement."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.adapters_out.store_errors import stored_conflict
from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic
from partner_ingest.domain.model.report import ErrorCode, ItemError, Location

from ._codec import dump_json, load_json, opt_dt
from ._errors import refusal
from .connection import from_timestamp, timestamp

__all__ = ["SqliteDiagnosticRepository"]

_COLUMNS: Final = (
    "import_id, partner_id, seq, item_index, sku, field, code, message, location, value, raw,"
    " raw_truncated, recorded_at, resolved_by, resolved_at"
)
_INSERT: Final = f"INSERT INTO partner_ingest_diagnostics ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT: Final = f"SELECT {_COLUMNS} FROM partner_ingest_diagnostics"
_RESOLVE_STEP: Final = 500  # SKUs per statement, well under SQLite's parameter limit


def _row(d: Diagnostic) -> tuple[object, ...]:
    e = d.error
    return (
        d.import_id,
        d.partner_id,
        d.seq,
        e.index,
        e.sku,
        e.field,
        str(e.code),
        e.message,
        None if e.location is None else dump_json(e.location.to_json()),
        d.value,
        d.raw,
        int(d.raw_truncated),
        timestamp(d.recorded_at),
        d.resolved_by,
        None if d.resolved_at is None else timestamp(d.resolved_at),
    )


def _diagnostic(row: Sequence[Any]) -> Diagnostic:
    (
        import_id,
        partner_id,
        seq,
        index,
        sku,
        field,
        code,
        message,
        location,
        value,
        raw,
        cut,
        at,
        by,
        when,
    ) = row
    error = ItemError(
        index,
        sku,
        field,
        ErrorCode(code),
        message,
        None if location is None else Location(**load_json(location)),
    )
    return Diagnostic(
        import_id=import_id,
        partner_id=partner_id,
        seq=seq,
        error=error,
        value=value,
        raw=raw,
        raw_truncated=bool(cut),
        recorded_at=from_timestamp(at),
        resolved_by=by,
        resolved_at=opt_dt(when),
    )


class SqliteDiagnosticRepository:
    """Diagnostics in one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keep a batch (one executemany); ConflictError for a kept (import, seq)."""
        try:
            self._conn.executemany(_INSERT, [_row(d) for d in diagnostics])
        except sqlite3.IntegrityError as error:
            raise stored_conflict("diagnostic", refusal(error), str(error)) from None

    def page(
        self, import_id: str, *, code: ErrorCode | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Diagnostic]:
        """In seq order after `after_seq`."""
        if code is None:
            rows = self._conn.execute(
                f"{_SELECT} WHERE import_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (import_id, after_seq, limit),
            )
        else:
            rows = self._conn.execute(
                f"{_SELECT} WHERE import_id = ? AND code = ? AND seq > ? ORDER BY seq LIMIT ?",
                (import_id, str(code), after_seq, limit),
            )
        return [_diagnostic(row) for row in rows]

    def summary(self, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """Grouped by code, most frequent first."""
        counts = self._conn.execute(
            "SELECT code, count(*) AS n FROM partner_ingest_diagnostics WHERE import_id = ?"
            " GROUP BY code ORDER BY n DESC, code",
            (import_id,),
        ).fetchall()
        return [
            CodeSummary(ErrorCode(code), n, tuple(self.page(import_id, code=ErrorCode(code), limit=examples)))
            for code, n in counts
        ]

    def latest_for_sku(self, partner_id: str, sku: str) -> list[Diagnostic]:
        """The diagnostics of the latest import that rejected `sku`."""
        rows = self._conn.execute(
            f"{_SELECT} WHERE partner_id = ?1 AND sku = ?2 AND import_id = ("
            " SELECT import_id FROM partner_ingest_diagnostics WHERE partner_id = ?1 AND sku = ?2"
            " ORDER BY id DESC LIMIT 1) ORDER BY seq",
            (partner_id, sku),
        )
        return [_diagnostic(row) for row in rows]

    def has_open(self, partner_id: str) -> bool:
        """Any diagnostic of the partner not resolved?"""
        row = self._conn.execute(
            "SELECT 1 FROM partner_ingest_diagnostics WHERE partner_id = ? AND resolved_by IS NULL LIMIT 1",
            (partner_id,),
        ).fetchone()
        return row is not None

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Close the open diagnostics of these SKUs."""
        resolved = 0
        when = timestamp(at)
        for start in range(0, len(skus), _RESOLVE_STEP):
            step = skus[start : start + _RESOLVE_STEP]
            cursor = self._conn.execute(
                "UPDATE partner_ingest_diagnostics SET resolved_by = ?, resolved_at = ?"
                f" WHERE partner_id = ? AND resolved_by IS NULL AND sku IN ({', '.join('?' * len(step))})",
                (by_import, when, partner_id, *step),
            )
            resolved += cursor.rowcount
        return resolved

    def open_items(self) -> Mapping[str, int]:
        """Distinct open rejected items per partner."""
        rows = self._conn.execute(
            "SELECT partner_id, count(*) FROM (SELECT DISTINCT partner_id, import_id, item_index"
            " FROM partner_ingest_diagnostics WHERE resolved_by IS NULL) GROUP BY partner_id"
        )
        return dict(rows.fetchall())

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest ones recorded before `before`, up to `limit`."""
        cursor = self._conn.execute(
            "DELETE FROM partner_ingest_diagnostics WHERE id IN (SELECT id FROM partner_ingest_diagnostics"
            " WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)",
            (timestamp(before), limit),
        )
        return cursor.rowcount
