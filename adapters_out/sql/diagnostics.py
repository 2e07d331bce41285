"""`partner_ingest_diagnostics`: every error of every rejected item, written a batch per statement (ADR 0033, ADR 0040).

`resolve` here closes SKUs in chunks of an IN list (SQLite has no arrays); PostgreSQL
closes them in one statement with `= ANY(array)` (`adapters_out/postgres/diagnostics.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic
from partner_ingest.domain.model.report import ErrorCode, ItemError, Location

from ._json import dump_json, load_json
from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["DiagnosticRow", "SqlDiagnosticRepository", "diagnostic"]


class DiagnosticRow(NamedTuple):
    """The columns a diagnostic is read from and written to, in order."""

    import_id: str
    partner_id: str
    seq: int
    item_index: int
    sku: str | None
    field: str
    code: str
    message: str
    location: str | None
    value: str | None
    raw: str | None
    raw_truncated: bool
    recorded_at: Any
    resolved_by: str | None
    resolved_at: Any


_COLUMNS: Final = ", ".join(DiagnosticRow._fields)
_INSERT: Final = f"INSERT INTO partner_ingest_diagnostics ({_COLUMNS}) VALUES ({', '.join('?' * len(DiagnosticRow._fields))})"
_SELECT: Final = f"SELECT {_COLUMNS} FROM partner_ingest_diagnostics"
_RESOLVE_STEP: Final = 500  # SKUs per statement, well under SQLite's parameter limit


def _opt_text(text: str | None, d: Dialect) -> str | None:
    return None if text is None else d.text(text)


def _row(diag: Diagnostic, d: Dialect) -> DiagnosticRow:
    e = diag.error
    return DiagnosticRow(
        import_id=diag.import_id,
        partner_id=diag.partner_id,
        seq=diag.seq,
        item_index=e.index,
        sku=_opt_text(e.sku, d),
        field=d.text(e.field),
        code=str(e.code),
        message=d.text(e.message),
        location=None if e.location is None else dump_json(e.location.to_json()),
        value=_opt_text(diag.value, d),
        raw=_opt_text(diag.raw, d),
        raw_truncated=diag.raw_truncated,
        recorded_at=d.time(diag.recorded_at),
        resolved_by=diag.resolved_by,
        resolved_at=d.opt_time(diag.resolved_at),
    )


def diagnostic(row: DiagnosticRow, d: Dialect) -> Diagnostic:
    """The diagnostic a row holds."""
    error = ItemError(
        row.item_index,
        row.sku,
        row.field,
        ErrorCode(row.code),
        row.message,
        None if row.location is None else Location(**load_json(row.location)),
    )
    return Diagnostic(
        import_id=row.import_id,
        partner_id=row.partner_id,
        seq=row.seq,
        error=error,
        value=row.value,
        raw=row.raw,
        raw_truncated=bool(row.raw_truncated),
        recorded_at=d.from_time(row.recorded_at),
        resolved_by=row.resolved_by,
        resolved_at=d.opt_from_time(row.resolved_at),
    )


class SqlDiagnosticRepository(SqlRepository):
    """Diagnostics in one connection's current transaction."""

    __slots__ = ()

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keep a batch (one executemany); ConflictError for a kept (import, seq)."""
        with self._d.conflicts(self._conn, "diagnostic"):
            self._d.many(self._conn, _INSERT, [_row(diag, self._d) for diag in diagnostics])

    def page(
        self, import_id: str, *, code: ErrorCode | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Diagnostic]:
        """In seq order after `after_seq`."""
        if code is None:
            rows = self._run(
                f"{_SELECT} WHERE import_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (import_id, after_seq, limit),
            )
        else:
            rows = self._run(
                f"{_SELECT} WHERE import_id = ? AND code = ? AND seq > ? ORDER BY seq LIMIT ?",
                (import_id, str(code), after_seq, limit),
            )
        return [diagnostic(DiagnosticRow._make(row), self._d) for row in rows]

    def summary(self, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """Grouped by code, most frequent first."""
        counts = self._run(
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
        sku = self._d.text(sku)
        rows = self._run(
            f"{_SELECT} WHERE partner_id = ? AND sku = ? AND import_id = ("
            " SELECT import_id FROM partner_ingest_diagnostics WHERE partner_id = ? AND sku = ?"
            " ORDER BY id DESC LIMIT 1) ORDER BY seq",
            (partner_id, sku, partner_id, sku),
        )
        return [diagnostic(DiagnosticRow._make(row), self._d) for row in rows]

    def has_open(self, partner_id: str) -> bool:
        """Any diagnostic of the partner not resolved?"""
        row = self._run(
            "SELECT 1 FROM partner_ingest_diagnostics WHERE partner_id = ? AND resolved_by IS NULL LIMIT 1",
            (partner_id,),
        ).fetchone()
        return row is not None

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Close the open diagnostics of these SKUs."""
        resolved = 0
        when = self._d.time(at)
        for start in range(0, len(skus), _RESOLVE_STEP):
            step = skus[start : start + _RESOLVE_STEP]
            cursor = self._run(
                "UPDATE partner_ingest_diagnostics SET resolved_by = ?, resolved_at = ?"
                f" WHERE partner_id = ? AND resolved_by IS NULL AND sku IN ({', '.join('?' * len(step))})",
                (by_import, when, partner_id, *step),
            )
            resolved += cursor.rowcount
        return resolved

    def open_items(self) -> Mapping[str, int]:
        """Distinct open rejected items per partner."""
        rows = self._run(
            "SELECT partner_id, count(*) FROM (SELECT DISTINCT partner_id, import_id, item_index"
            " FROM partner_ingest_diagnostics WHERE resolved_by IS NULL) AS open_items GROUP BY partner_id"
        )
        return {partner_id: int(n) for partner_id, n in rows}

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest ones recorded before `before`, up to `limit`."""
        cursor = self._run(
            "DELETE FROM partner_ingest_diagnostics WHERE id IN (SELECT id FROM partner_ingest_diagnostics"
            " WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)",
            (self._d.time(before), limit),
        )
        return cursor.rowcount
