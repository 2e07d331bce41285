"""Where the pipeline's validated rows go (ADR 0005): a `FeedSink` is the unit of work's
repositories for an ingest, or `SetSink`, which stores nothing, for a dry validation.

Invariant: a sink sees every row of a feed once, in feed order, in batches with distinct SKUs;
what it answers (repeats, counts, stored rows) is all the back half knows of storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from partner_ingest.domain.model.diagnostics import Rejection
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.repeats import record_repeats
from partner_ingest.ports.repositories import UpsertCounts

__all__ = ["FeedSink", "SetSink"]


class FeedSink(Protocol):
    """Where validated rows go: the unit of work's repositories, or nowhere."""

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Positions of SKUs already seen in this feed (see FeedSkuRegister)."""
        ...

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        """Write a batch; rows have distinct SKUs."""
        ...

    def keep(self, rejections: Sequence[Rejection]) -> None:
        """Keep a batch of rejections, each error of each rejected item (the diagnostics)."""

    def current(self, skus: Sequence[str]) -> Mapping[str, ProductRow]:
        """The stored rows of those of `skus` that are active products (what patches merge into)."""
        ...

    def retire(self, skus: Sequence[str]) -> int:
        """Retire those of `skus` that are active products; how many were."""
        ...


class SetSink:
    """A sink for validation without storage: remembers SKUs, writes nothing.

    Used by dry validation (partners' CI); it holds every SKU of the feed in
    memory, which is fine for a check but is why real ingests use the store.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Positions of SKUs seen before."""
        return record_repeats(self._seen, skus)

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        """Count every row as created: there is nothing to compare against."""
        return UpsertCounts(len(rows), 0, 0)

    def keep(self, rejections: Sequence[Rejection]) -> None:
        """Nothing is kept: the report has the errors a check needs."""

    def current(self, skus: Sequence[str]) -> Mapping[str, ProductRow]:
        """Nothing is stored: a patch checked without a store names only unknown SKUs."""
        return {}

    def retire(self, skus: Sequence[str]) -> int:
        """Count every delete as done."""
        return len(skus)
