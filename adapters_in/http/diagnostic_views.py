"""Diagnostics as HTTP answers: JSON objects, JSON Lines, and CSV that a spreadsheet cannot run.

A partner opens the CSV in a spreadsheet, and the cells hold what the partner's
own feed held (a value, a raw item), which may be anything a hostile source put
there. Every cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
is prefixed with `'`, as OWASP's CSV injection guidance says, so no cell is ever
run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic
from partner_ingest.domain.use_cases.diagnostics import DiagnosticsPage, SkuStatus

from .views import product_json

__all__ = [
    "CSV_COLUMNS",
    "csv_lines",
    "diagnostic_json",
    "jsonl_lines",
    "neutralized",
    "page_json",
    "sku_status_json",
    "summary_json",
]

CSV_COLUMNS: Final = (
    "seq", "index", "sku", "field", "code", "message", "pointer", "line", "column", "offset",
    "value", "raw", "raw_truncated", "recorded_at", "resolved_by", "resolved_at",
)  # fmt: skip
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralized(cell: str) -> str:
    """The cell as a spreadsheet shows it without running it: `'` before a formula's first character."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """One kept error."""
    return d.to_json()


def page_json(page: DiagnosticsPage) -> dict[str, Any]:
    """A page of an import's errors."""
    return {
        "import_id": page.import_id,
        "errors": [diagnostic_json(d) for d in page.diagnostics],
        "next_after": page.next_after,
    }


def summary_json(import_id: str, summary: list[CodeSummary]) -> dict[str, Any]:
    """An import's errors by code, most frequent first."""
    return {
        "import_id": import_id,
        "total": sum(c.count for c in summary),
        "codes": [
            {"code": str(c.code), "count": c.count, "examples": [diagnostic_json(d) for d in c.examples]}
            for c in summary
        ],
    }


def sku_status_json(status: SkuStatus) -> dict[str, Any]:
    """Where one SKU stands."""
    return {
        "sku": status.sku,
        "accepted": None
        if status.accepted is None
        else {"product": product_json(status.accepted), "import_id": status.accepted_import},
        "rejected": None
        if not status.rejected
        else {"import_id": status.rejected_import, "errors": [diagnostic_json(d) for d in status.rejected]},
    }


def jsonl_lines(diagnostics: Iterable[Diagnostic]) -> Iterator[bytes]:
    """One JSON object per line."""
    for d in diagnostics:
        yield json.dumps(diagnostic_json(d), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _cells(d: Diagnostic) -> list[object]:
    e, loc = d.error, d.error.location
    return [
        d.seq,
        e.index,
        e.sku,
        e.field,
        str(e.code),
        e.message,
        None if loc is None else loc.pointer,
        None if loc is None else loc.line,
        None if loc is None else loc.column,
        None if loc is None else loc.offset,
        d.value,
        d.raw,
        "true" if d.raw_truncated else "false",
        d.recorded_at.isoformat(),
        d.resolved_by,
        None if d.resolved_at is None else d.resolved_at.isoformat(),
    ]


def csv_lines(diagnostics: Iterable[Diagnostic]) -> Iterator[bytes]:
    """A header, then a row per error; text cells neutralized (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode()
    for d in diagnostics:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if c is None else neutralized(c) if isinstance(c, str) else c for c in _cells(d)])
        yield buffer.getvalue().encode()
