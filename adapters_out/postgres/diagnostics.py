"""`partner_ingest_diagnostics`: every error of every rejected item, written a batch per statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic
from partner_ingest.domain.model.report import ErrorCode, ItemError, Location

from ._codec import dump_json, load_json, storable_text
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresDiagnosticRepository"]

_COLUMNS: Final = (
    "import_id, partner_id, seq, item_index, sku, field, code, message, location, value, raw,"
    " raw_truncated, recorded_at, resolved_by, resolved_at"
)
_INSERT: Final = f"INSERT INTO partner_ingest_diagnostics ({_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"
_SELECT: Final = f"SELECT {_COLUMNS} FROM partner_ingest_diagnostics"


def _opt_text(text: str | None) -> str | None:
    return None if text is None else storable_text(text)


def _row(d: Diagnostic) -> tuple[object, ...]:
    e = d.error
    return (
        d.import_id,
        d.partner_id,
        d.seq,
        e.index,
        _opt_text(e.sku),
        storable_text(e.field),
        str(e.code),
        storable_text(e.message),
        None if e.location is None else dump_json(e.location.to_json()),
        _opt_text(d.value),
        _opt_text(d.raw),
        d.raw_truncated,
        d.recorded_at,
        d.resolved_by,
        d.resolved_at,
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
        raw_truncated=cut,
        recorded_at=at,
        resolved_by=by,
        resolved_at=when,
    )


class PostgresDiagnosticRepository:
    """Diagnostics in one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keep a batch (one pipelined executemany); ConflictError for a kept (import, seq)."""
        with conflicts(self._conn, "diagnostic"), self._conn.cursor() as cursor:
            cursor.executemany(_INSERT, [_row(d) for d in diagnostics])

    def page(
        self, import_id: str, *, code: ErrorCode | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Diagnostic]:
        """In seq order after `after_seq`."""
        if code is None:
            rows = self._conn.execute(
                f"{_SELECT} WHERE import_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                (import_id, after_seq, limit),
            )
        else:
            rows = self._conn.execute(
                f"{_SELECT} WHERE import_id = %s AND code = %s AND seq > %s ORDER BY seq LIMIT %s",
                (import_id, str(code), after_seq, limit),
            )
        return [_diagnostic(row) for row in rows]

    def summary(self, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """Grouped by code, most frequent first."""
        counts = self._conn.execute(
            "SELECT code, count(*) AS n FROM partner_ingest_diagnostics WHERE import_id = %s"
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
            f"{_SELECT} WHERE partner_id = %(p)s AND sku = %(s)s AND import_id = ("
            " SELECT import_id FROM partner_ingest_diagnostics WHERE partner_id = %(p)s AND sku = %(s)s"
            " ORDER BY id DESC LIMIT 1) ORDER BY seq",
            {"p": partner_id, "s": storable_text(sku)},
        )
        return [_diagnostic(row) for row in rows]

    def has_open(self, partner_id: str) -> bool:
        """Any diagnostic of the partner not resolved?"""
        row = self._conn.execute(
            "SELECT 1 FROM partner_ingest_diagnostics WHERE partner_id = %s AND resolved_by IS NULL LIMIT 1",
            (partner_id,),
        ).fetchone()
        return row is not None

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Close the open diagnostics of these SKUs (one statement, the SKUs as an array)."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_diagnostics SET resolved_by = %s, resolved_at = %s"
            " WHERE partner_id = %s AND resolved_by IS NULL AND sku = ANY(%s)",
            (by_import, at, partner_id, [storable_text(s) for s in skus]),
        )
        return cursor.rowcount

    def open_items(self) -> Mapping[str, int]:
        """Distinct open rejected items per partner."""
        rows = self._conn.execute(
            "SELECT partner_id, count(*) FROM (SELECT DISTINCT partner_id, import_id, item_index"
            " FROM partner_ingest_diagnostics WHERE resolved_by IS NULL) AS open_items GROUP BY partner_id"
        )
        return dict(rows.fetchall())

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest ones recorded before `before`, up to `limit`."""
        cursor = self._conn.execute(
            "DELETE FROM partner_ingest_diagnostics WHERE id IN (SELECT id FROM partner_ingest_diagnostics"
            " WHERE recorded_at < %s ORDER BY recorded_at LIMIT %s)",
            (before, limit),
        )
        return cursor.rowcount
