"""The streaming heart of every ingest: parse -> validate -> drop repeats -> upsert, in batches.

One feed flows through here item by item. Nothing holds the whole feed: items
are parsed one at a time, validated into storage rows, and written in bounded
batches (bounded also so that CPython's cyclic GC never sees more than a batch
of live objects). Writes go to a `FeedSink`, so the same loop serves a real
ingest (the unit of work) and a dry validation (no database at all).

Two halves: `validated_chunks` parses and validates (pure computation), and
`run_feed` drops repeats, writes and counts. A `FeedParsing` may run the
first half in another process while this one writes (ADR 0019); the chunks,
and so the outcome, are the same wherever it ran.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Protocol

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits, ValidationPolicy
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.repeats import record_repeats
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
from partner_ingest.ports.parsing import FeedParsing
from partner_ingest.ports.repositories import UpsertCounts

from .streams import RawReader

__all__ = ["FeedOutcome", "FeedSink", "HashingReader", "SetSink", "run_feed", "validated_chunks"]


class FeedSink(Protocol):
    """Where validated rows go: the unit of work's repositories, or nowhere."""

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Positions of SKUs already seen in this feed (see FeedSkuRegister)."""

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        """Write a batch; rows have distinct SKUs."""


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


def validated_chunks(
    fmt: FeedFormat,
    stream: BinaryIO,
    validator: ItemValidator,
    limits: FeedLimits,
    batch_size: int,
) -> Iterator[ValidatedChunk]:
    """The pipeline's front half: parse and validate `stream`, a chunk per `batch_size` valid
    rows or invalid items, whichever comes first; the last chunk says why reading stopped
    early, if it did. Never raises for bad input.

    This is the work a `FeedParsing` may move to another process (ADR 0019): it only
    computes, and everything it yields is plain data.
    """
    validate = validator.validate
    max_items = limits.max_items
    rows: list[ProductRow] = []
    indexes: list[int] = []
    markers: list[object] = []
    rejected: list[tuple[list[ItemError], object]] = []
    index = -1
    feed_error: FeedError | None = None
    try:
        for index, (raw, marker) in enumerate(fmt.parse(stream, limits)):
            if index >= max_items:
                raise MalformedFeedError(
                    ErrorCode.TOO_MANY_ITEMS, f"a feed may hold at most {max_items} items"
                )
            result = validate(raw, index)
            if type(result) is tuple:
                rows.append(result)
                indexes.append(index)
                markers.append(marker)
                if len(rows) >= batch_size:
                    yield ValidatedChunk(rows, indexes, markers, rejected, index + 1)
                    rows, indexes, markers, rejected = [], [], [], []
            else:
                assert isinstance(result, list)
                rejected.append((result, marker))
                if len(rejected) >= batch_size:  # a feed of invalid items is held no more than valid ones
                    yield ValidatedChunk(rows, indexes, markers, rejected, index + 1)
                    rows, indexes, markers, rejected = [], [], [], []
    except MalformedFeedError as problem:
        feed_error = problem.error
    except RecursionError:
        feed_error = FeedError(ErrorCode.TOO_DEEP, "the document is nested too deeply to read")
    yield ValidatedChunk(rows, indexes, markers, rejected, index + 1, feed_error, last=True)


def run_feed(
    fmt: FeedFormat,
    stream: BinaryIO,
    validator: ItemValidator,
    policy: ValidationPolicy,
    limits: FeedLimits,
    sink: FeedSink,
    *,
    batch_size: int = 1000,
    errors_cap: int = 100,
    parsing: FeedParsing | None = None,
) -> FeedOutcome:
    """Stream one feed through validation into `sink`; never raises for bad input.

    The front half runs where `parsing` says (here, by default); the back half,
    which writes, always runs here, in the caller's unit of work.
    """
    counts = _Counts()
    errors: list[ItemError] = []
    feed_error: FeedError | None = None
    atomic = policy.atomic

    def record(found: list[ItemError], marker: object) -> None:
        counts.rejected += 1
        for error in found:
            counts.errors_total += 1
            if len(errors) < errors_cap:
                errors.append(attrs.evolve(error, location=fmt.locate(error.index, marker, error.field)))

    def repeated_rows(chunk: ValidatedChunk) -> list[int]:
        """Positions of the chunk's rows whose SKU came earlier in the feed."""
        rows = chunk.rows
        # SKUs of invalid items count too: a valid item repeating them is a repeat.
        invalid = [(found[0].index, found[0].sku) for found, _ in chunk.rejected if found[0].sku is not None]
        if not invalid:
            return sink.repeated([row[1] for row in rows]) if rows else []
        # Feed order across valid and invalid items; -1 marks an invalid one.
        merged = sorted(
            [
                (index, row[1], position)
                for position, (index, row) in enumerate(zip(chunk.indexes, rows, strict=True))
            ]
            + [(index, sku, -1) for index, sku in invalid]
        )
        found = sink.repeated([sku for _, sku, _ in merged])
        return [merged[p][2] for p in found if merged[p][2] >= 0]

    def write(chunk: ValidatedChunk) -> None:
        """Report the chunk's repeats, then upsert the rest (unless an atomic feed failed)."""
        rows, indexes, markers = chunk.rows, chunk.indexes, chunk.markers
        for position in reversed(repeated_rows(chunk)):
            row = rows.pop(position)
            index = indexes.pop(position)
            marker = markers.pop(position)
            error = ItemError(
                index,
                row[1],
                "sku",
                ErrorCode.DUPLICATE,
                f"sku: {row[1]!r} appears earlier in this feed",
            )
            record([error], marker)
        if rows and not (atomic and counts.rejected):
            written = sink.upsert(rows)
            counts.created += written.created
            counts.updated += written.updated
            counts.unchanged += written.unchanged

    received = 0
    if parsing is None:
        chunks = validated_chunks(fmt, stream, validator, limits, batch_size)
    else:
        chunks = parsing.chunks(fmt, stream, validator, limits, batch_size)
    try:
        for chunk in chunks:
            for found, marker in chunk.rejected:
                record(found, marker)
            received = chunk.received
            if chunk.feed_error is not None:
                feed_error = chunk.feed_error  # a feed that cannot be read is not written
                break
            write(chunk)
    finally:
        close = getattr(chunks, "close", None)  # a parser process is released or stopped
        if close is not None:
            close()

    errors.sort(key=lambda e: e.index)
    if feed_error is None and received and counts.rejected:
        if atomic:
            feed_error = FeedError(
                ErrorCode.ATOMIC_REJECTED,
                f"{counts.rejected} of {received} items are invalid and this feed is atomic: none was applied",
            )
        elif counts.rejected / received > policy.max_error_ratio:
            feed_error = FeedError(
                ErrorCode.ERROR_BUDGET,
                f"{counts.rejected} of {received} items are invalid, more than the "
                f"{policy.max_error_ratio:.0%} this partner's policy allows: none was applied",
            )

    if feed_error is not None or (received and counts.rejected == received):
        status = FeedStatus.REJECTED
        final = IngestCounts(received=received, rejected=counts.rejected)
    else:
        status = FeedStatus.PARTIAL if counts.rejected else FeedStatus.ACCEPTED
        final = IngestCounts(received, counts.created, counts.updated, counts.unchanged, counts.rejected)
    return FeedOutcome(status, final, tuple(errors), counts.errors_total, feed_error)


@attrs.define
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors_total: int = 0
