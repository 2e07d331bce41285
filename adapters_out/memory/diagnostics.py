"""Every rejected item's errors in memory, by (import, seq), in the order they were kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from partner_ingest.adapters_out.store_errors import EXISTS
from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic
from partner_ingest.domain.model.errors import ConflictError
from partner_ingest.domain.model.report import ErrorCode

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryDiagnosticRepository"]


class InMemoryDiagnosticRepository:
    """Diagnostics keyed by (import_id, seq); dict order is insertion order, the tie-break."""

    def __init__(self, table: dict[tuple[str, int], Diagnostic], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keep a batch; ConflictError when one (import, seq) is kept already."""
        for diagnostic in diagnostics:
            key = (diagnostic.import_id, diagnostic.seq)
            if key in self._table:
                raise ConflictError(f"diagnostic {key!r} {EXISTS}")
            self._undo.set(self._table, key, diagnostic)

    def page(
        self, import_id: str, *, code: ErrorCode | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Diagnostic]:
        """In seq order after `after_seq`."""
        found = sorted(
            (
                d
                for (iid, seq), d in self._table.items()
                if iid == import_id and seq > after_seq and (code is None or d.error.code is code)
            ),
            key=lambda d: d.seq,
        )
        return found[:limit]

    def summary(self, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """Grouped by code, most frequent first."""
        of_import = self.page(import_id, limit=len(self._table))
        counts = Counter(d.error.code for d in of_import)
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].value))
        return [
            CodeSummary(code, count, tuple([d for d in of_import if d.error.code is code][:examples]))
            for code, count in ordered
        ]

    def latest_for_sku(self, partner_id: str, sku: str) -> list[Diagnostic]:
        """The diagnostics of the latest import that rejected `sku`."""
        latest: str | None = None
        for d in self._table.values():
            if d.partner_id == partner_id and d.error.sku == sku:
                latest = d.import_id
        if latest is None:
            return []
        return [d for d in self.page(latest, limit=len(self._table)) if d.error.sku == sku]

    def has_open(self, partner_id: str) -> bool:
        """Any diagnostic of the partner not resolved?"""
        return any(d.partner_id == partner_id and d.resolved_by is None for d in self._table.values())

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Close the open diagnostics of these SKUs."""
        wanted = set(skus)
        resolved = 0
        for key, d in list(self._table.items()):
            if d.partner_id == partner_id and d.resolved_by is None and d.error.sku in wanted:
                self._undo.set(self._table, key, attrs.evolve(d, resolved_by=by_import, resolved_at=at))
                resolved += 1
        return resolved

    def open_items(self) -> Mapping[str, int]:
        """Distinct open rejected items per partner."""
        items = {
            (d.partner_id, d.import_id, d.error.index) for d in self._table.values() if d.resolved_by is None
        }
        return dict(Counter(partner for partner, _, _ in items))

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest ones recorded before `before`, up to `limit`."""
        old = [key for key, d in self._table.items() if d.recorded_at < before][:limit]
        for key in old:
            self._undo.delete(self._table, key)
        return len(old)
