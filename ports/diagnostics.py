"""The diagnostics ports: the store of every rejected item's errors, and the spool that holds
them while a feed streams.

A feed's rejections are known chunk by chunk, but where they are written is
decided only at the end (an applied feed keeps them in its own unit of work; a
rejected one rolls its products back and keeps them in a second). So they are
spooled while the feed streams, in bounded memory, and the diagnostics step
writes them from the spool in batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic, Rejection
from partner_ingest.domain.model.report import ErrorCode

__all__ = ["DiagnosticRepository", "RejectionSpool", "RejectionSpools"]


class DiagnosticRepository(Protocol):
    """`partner_ingest_diagnostics`: every error of every rejected item, per import."""

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keep a batch of one import's diagnostics (their `seq` distinct within the import)."""

    def page(
        self, import_id: str, *, code: ErrorCode | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Diagnostic]:
        """An import's diagnostics in `seq` order after `after_seq`, of one code if given."""

    def summary(self, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """An import's diagnostics grouped by code (most frequent first, then by code), with the
        first `examples` of each."""

    def latest_for_sku(self, partner_id: str, sku: str) -> list[Diagnostic]:
        """The diagnostics of the partner's latest import that rejected `sku`, in `seq` order."""

    def has_open(self, partner_id: str) -> bool:
        """Does the partner have a diagnostic not resolved yet?"""

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Resolve the partner's open diagnostics of these SKUs, by the import that accepted them;
        how many were resolved."""

    def open_items(self) -> Mapping[str, int]:
        """Rejected items not resolved yet, per partner (a metric)."""

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete up to `limit` diagnostics recorded before `before`; how many were deleted."""


class RejectionSpool(Protocol):
    """One feed's rejections, held in bounded memory until they are written."""

    def add(self, rejections: Sequence[Rejection]) -> None:
        """Append a batch, in feed order."""

    def batches(self, size: int) -> Iterator[list[Rejection]]:
        """Every rejection added, in order, `size` at a time (may be read more than once)."""

    def close(self) -> None:
        """Release what it holds."""


class RejectionSpools(Protocol):
    """Makes a spool per feed."""

    def __call__(self) -> RejectionSpool: ...
