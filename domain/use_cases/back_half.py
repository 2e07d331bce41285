"""The back half of the pipeline (ADR 0005, ADR 0019): takes a feed's validated chunks in order,
merges patches into stored products (ADR 0036), reports invalid items and repeats, writes
the rest to a `FeedSink`, and says what happened (`FeedOutcome`).

Invariant: it always runs in the ingesting thread, in the caller's unit of work, whatever
process ran the front half; it commits nothing, so the caller commits the sink's writes only
when `FeedOutcome.applied`; an atomic feed with an invalid item writes no row after it.
"""

from __future__ import annotations

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.diagnostics import ItemSnapshot, Rejection, snapshot_of
from partner_ingest.domain.model.patching import patched_item, patched_row
from partner_ingest.domain.model.policy import Mode, ValidationPolicy
from partner_ingest.domain.model.product import PRODUCT_COLUMNS, SKU, ProductRow
from partner_ingest.domain.model.report import (
    ErrorCode,
    FeedError,
    FeedStatus,
    IngestCounts,
    IngestReport,
    ItemError,
)
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.ports.formats import FeedFormat

from .feed_sinks import FeedSink

__all__ = ["BackHalf", "FeedOutcome"]


@attrs.frozen
class FeedOutcome:
    """What happened to one feed in the pipeline, before anything is committed."""

    status: FeedStatus
    counts: IngestCounts
    errors: tuple[ItemError, ...]
    errors_total: int
    feed_error: FeedError | None

    @property
    def applied(self) -> bool:
        """Should the sink's writes be committed?"""
        return self.status is not FeedStatus.REJECTED

    def report(self, feed_id: str, partner_id: str, fmt: FeedFormat, *, dry_run: bool) -> IngestReport:
        """The partner's report of this outcome."""
        return IngestReport(
            feed_id=feed_id,
            partner_id=partner_id,
            format=fmt.name,
            version=fmt.version,
            status=self.status,
            counts=self.counts,
            errors=self.errors,
            errors_total=self.errors_total,
            feed_error=self.feed_error,
            dry_run=dry_run,
        )


class BackHalf:
    """Takes a feed's chunks in order: reports the invalid items and the repeats, writes the rest."""

    def __init__(
        self,
        fmt: FeedFormat,
        policy: ValidationPolicy,
        sink: FeedSink,
        errors_cap: int,
        validator: ItemValidator,
    ) -> None:
        self._validator = validator
        self._deleted = 0
        self._fmt = fmt
        self._policy = policy
        self._sink = sink
        self._errors_cap = errors_cap
        self._errors: list[ItemError] = []
        self._errors_total = 0
        self._received = 0
        self._rejected = 0
        self._created = self._updated = self._unchanged = 0
        self._feed_error: FeedError | None = None
        self._kept: list[Rejection] = []

    def take(self, chunk: ValidatedChunk) -> bool:
        """Count and write one chunk; False once the feed turned out unreadable (stop there)."""
        snapshots = chunk.snapshots
        for position, (found, marker) in enumerate(chunk.rejected):
            self._reject(found, marker, snapshots[position] if position < len(snapshots) else None)
        self._received = chunk.received
        if chunk.feed_error is not None:
            self._feed_error = chunk.feed_error
            self._keep()
            return False
        self._write(chunk)
        self._keep()
        return True

    def outcome(self) -> FeedOutcome:
        """The feed's status, counts and errors, once every chunk was taken."""
        received, rejected = self._received, self._rejected
        feed_error = self._feed_error
        if feed_error is None and received and rejected:
            if self._policy.atomic:
                feed_error = FeedError(
                    ErrorCode.ATOMIC_REJECTED,
                    f"{rejected} of {received} items are invalid and this feed is atomic: none was applied",
                )
            elif rejected / received > self._policy.max_error_ratio:
                feed_error = FeedError(
                    ErrorCode.ERROR_BUDGET,
                    f"{rejected} of {received} items are invalid, more than the "
                    f"{self._policy.max_error_ratio:.0%} this partner's policy allows: none was applied",
                )
        errors = tuple(sorted(self._errors, key=lambda e: e.index))
        if feed_error is not None or (received and rejected == received):
            status = FeedStatus.REJECTED
            counts = IngestCounts(received=received, rejected=rejected)
        else:
            status = FeedStatus.PARTIAL if rejected else FeedStatus.ACCEPTED
            counts = IngestCounts(
                received, self._created, self._updated, self._unchanged, rejected, self._deleted
            )
        return FeedOutcome(status, counts, errors, self._errors_total, feed_error)

    def _reject(self, found: list[ItemError], marker: object, snapshot: ItemSnapshot | None = None) -> None:
        self._rejected += 1
        for number, error in enumerate(found):
            self._errors_total += 1
            located = attrs.evolve(error, location=self._fmt.locate(error.index, marker, error.field))
            if len(self._errors) < self._errors_cap:
                self._errors.append(located)
            if snapshot is None:
                self._kept.append(Rejection(located))
            else:
                value = snapshot.values[number] if number < len(snapshot.values) else None
                self._kept.append(Rejection(located, value, snapshot.raw, snapshot.raw_truncated))

    def _keep(self) -> None:
        """Hand the chunk's rejections to the sink (every one, not only the report's first)."""
        if self._kept:
            self._sink.keep(self._kept)
            self._kept = []

    def _write(self, chunk: ValidatedChunk) -> None:
        """Merge the chunk's patches, report its repeats, then upsert the rest and retire its
        deletes (unless an atomic feed failed)."""
        if chunk.patches:
            self._merge_patches(chunk)
        rows, indexes, markers = chunk.rows, chunk.indexes, chunk.markers
        deletes = chunk.deletes
        repeated_rows, repeated_deletes = self._repeated(chunk)
        for position in reversed(repeated_rows):
            row = rows.pop(position)
            index = indexes.pop(position)
            marker = markers.pop(position)
            error = _repeat(index, row[SKU])
            item = {
                name: value for name, value in zip(PRODUCT_COLUMNS[SKU:], row[SKU:], strict=True) if value
            }
            self._reject([error], marker, snapshot_of(item, [error]))
        for position in reversed(repeated_deletes):
            index, sku, marker = deletes.pop(position)
            self._reject([_repeat(index, sku)], marker)
        if self._policy.atomic and self._rejected:
            return
        if rows:
            written = self._sink.upsert(rows)
            self._created += written.created
            self._updated += written.updated
            self._unchanged += written.unchanged
        if deletes:
            retired = self._sink.retire([sku for _, sku, _ in deletes])
            self._deleted += retired
            self._unchanged += len(deletes) - retired

    def _merge_patches(self, chunk: ValidatedChunk) -> None:
        """Each patch merged into its stored product and validated as a whole (the reference
        validator: a patch is rare enough not to need the fast path); the valid ones join the
        chunk's rows, in feed order."""
        validator = self._validator
        lenient = validator.mode is Mode.LENIENT
        named = [(index, raw, marker, validator.sku_of(raw, index)) for index, raw, marker in chunk.patches]
        stored = self._sink.current([sku for _, _, _, sku in named if isinstance(sku, str)])
        merged: list[tuple[int, ProductRow, object]] = list(
            zip(chunk.indexes, chunk.rows, chunk.markers, strict=True)
        )
        for index, raw, marker, sku in named:
            assert isinstance(sku, str)  # the front half sent on only items with a valid SKU
            base = stored.get(sku)
            if base is None:
                message = f"sku: {sku!r} is not an active product; a patch changes existing products only"
                unknown = ItemError(index, sku, "sku", ErrorCode.UNKNOWN_SKU, message)
                self._reject([unknown], marker, snapshot_of(raw, [unknown]))
                continue
            item = patched_item(base, raw, validator.contract, lenient=lenient)
            result = validator.validate_exactly(item, index)
            if isinstance(result, list):
                self._reject(result, marker, snapshot_of(raw, result))
            else:
                merged.append((index, patched_row(result, base, validator.contract, lenient=lenient), marker))
        merged.sort(key=lambda entry: entry[0])
        chunk.rows[:] = [row for _, row, _ in merged]
        chunk.indexes[:] = [index for index, _, _ in merged]
        chunk.markers[:] = [marker for _, _, marker in merged]

    def _repeated(self, chunk: ValidatedChunk) -> tuple[list[int], list[int]]:
        """Positions of the chunk's rows, and of its deletes, whose SKU came earlier in the feed."""
        rows, deletes = chunk.rows, chunk.deletes
        # SKUs of invalid items count too: a valid item repeating them is a repeat.
        invalid = [(found[0].index, found[0].sku) for found, _ in chunk.rejected if found[0].sku is not None]
        if not invalid and not deletes:
            return (self._sink.repeated([row[SKU] for row in rows]) if rows else []), []
        # Feed order across valid items, deletes and invalid items: (index, sku, kind, position),
        # kind 0 a row, 1 a delete, 2 an invalid item.
        merged = sorted(
            [
                (index, row[SKU], 0, position)
                for position, (index, row) in enumerate(zip(chunk.indexes, rows, strict=True))
            ]
            + [(index, sku, 1, position) for position, (index, sku, _) in enumerate(deletes)]
            + [(index, sku, 2, -1) for index, sku in invalid]
        )
        found = self._sink.repeated([sku for _, sku, _, _ in merged])
        return (
            [merged[p][3] for p in found if merged[p][2] == 0],
            [merged[p][3] for p in found if merged[p][2] == 1],
        )


def _repeat(index: int, sku: str) -> ItemError:
    return ItemError(index, sku, "sku", ErrorCode.DUPLICATE, f"sku: {sku!r} appears earlier in this feed")
