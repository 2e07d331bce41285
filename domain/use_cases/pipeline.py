"""The streaming heart of every ingest: parse -> validate -> drop repeats -> upsert, in batches.

One feed flows through here item by item. Nothing holds the whole feed: items
are parsed one at a time, validated into storage rows, and written in bounded
batches (bounded also so that CPython's cyclic GC never sees more than a batch
of live objects). Writes go to a `FeedSink`, so the same loop serves a real
ingest (the unit of work) and a dry validation (no database at all).

Two halves: the front half parses and validates (`FeedReading`, a value of
the model: pure computation), and the back half (`_BackHalf`) drops repeats,
writes and counts. A `FeedParsing` may run the front half in another process
while this one writes (ADR 0019); the chunks, and so the outcome, are the same
wherever it ran.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing
from typing import BinaryIO, Final, Protocol

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.diagnostics import ItemSnapshot, Rejection, snapshot_of
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.patching import patched_item, patched_row
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.product import PRODUCT_COLUMNS, SKU, ProductRow
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.repeats import record_repeats
from partner_ingest.domain.model.report import (
    ErrorCode,
    FeedError,
    FeedStatus,
    IngestCounts,
    IngestReport,
    ItemError,
)
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.domain.model.streams import RawReader
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.ports.formats import FeedFormat, for_patches
from partner_ingest.ports.parsing import FeedParsing
from partner_ingest.ports.repositories import UpsertCounts

__all__ = [
    "PARSE_HERE",
    "FeedOutcome",
    "FeedSink",
    "HashingReader",
    "ParseHere",
    "SetSink",
    "reading_for",
    "run_feed",
]


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


class ParseHere:
    """The default `FeedParsing`: the front half runs in the ingesting thread."""

    def open(
        self, reading: FeedReading, stream: BinaryIO
    ) -> AbstractContextManager[Iterator[ValidatedChunk]]:
        """`reading.chunks(stream)`, closed on leaving."""
        return closing(reading.chunks(stream))


PARSE_HERE: Final = ParseHere()


def reading_for(
    fmt: FeedFormat,
    mode: Mode,
    *,
    partner_id: str,
    limits: FeedLimits,
    batch_size: int = 1000,
    fast_validator: bool = True,
    feed_mode: FeedMode = FeedMode.UPSERT,
) -> FeedReading:
    """The front half for a feed in `fmt`, validated against that version's contract in `mode`
    (by the reference validator alone when `fast_validator` is False; a patch feed's items
    are validated by the back half, merged into the stored products)."""
    validator = _validator(fmt.version, Mode(mode), fmt.textual, partner_id, limits, fast_validator)
    patch = feed_mode is FeedMode.PATCH
    if patch:
        fmt = for_patches(fmt)
    return FeedReading(fmt, validator, limits, batch_size, patch=patch)


@functools.lru_cache(maxsize=256)
def _validator(
    version: int, mode: Mode, textual: bool, partner_id: str, limits: FeedLimits, fast: bool
) -> ItemValidator:
    # A validator holds no state between items or feeds, and building one (its plan, its
    # generated fast path) costs more than validating a small feed: each partner's is
    # built once per contract and mode, not per request.
    return ItemValidator(
        contract_for(version), mode, textual=textual, partner_id=partner_id, limits=limits, fast=fast
    )


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


class HashingReader(RawReader):
    """Wraps a stream, computing SHA-256 and size of what is read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()
        self.size = 0

    def read_some(self, size: int) -> bytes:
        data = self._inner.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        """SHA-256 of everything read so far."""
        return self._hash.hexdigest()


def run_feed(
    fmt: FeedFormat,
    reading: FeedReading,
    stream: BinaryIO,
    policy: ValidationPolicy,
    sink: FeedSink,
    *,
    errors_cap: int = 100,
    parsing: FeedParsing = PARSE_HERE,
    on_items: Callable[[int], None] | None = None,
) -> FeedOutcome:
    """Stream one feed through validation into `sink`; never raises for bad input.

    The front half runs where `parsing` says (here, by default); the back half,
    which writes, always runs here, in the caller's unit of work.
    """
    back = _BackHalf(fmt, policy, sink, errors_cap, reading.validator)
    with parsing.open(reading, stream) as chunks:
        for chunk in chunks:
            if not back.take(chunk):
                break  # a feed that cannot be read is not written
            if on_items is not None:
                on_items(chunk.received)
    return back.outcome()


class _BackHalf:
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
