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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing
from typing import BinaryIO, Final, Protocol

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.product import ProductRow
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
from partner_ingest.ports.formats import FeedFormat
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
) -> FeedReading:
    """The front half for a feed in `fmt`, validated against that version's contract in `mode`
    (by the reference validator alone when `fast_validator` is False)."""
    validator = _validator(fmt.version, Mode(mode), fmt.textual, partner_id, limits, fast_validator)
    return FeedReading(fmt, validator, limits, batch_size)


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
) -> FeedOutcome:
    """Stream one feed through validation into `sink`; never raises for bad input.

    The front half runs where `parsing` says (here, by default); the back half,
    which writes, always runs here, in the caller's unit of work.
    """
    back = _BackHalf(fmt, policy, sink, errors_cap)
    with parsing.open(reading, stream) as chunks:
        for chunk in chunks:
            if not back.take(chunk):
                break  # a feed that cannot be read is not written
    return back.outcome()


class _BackHalf:
    """Takes a feed's chunks in order: reports the invalid items and the repeats, writes the rest."""

    def __init__(self, fmt: FeedFormat, policy: ValidationPolicy, sink: FeedSink, errors_cap: int) -> None:
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

    def take(self, chunk: ValidatedChunk) -> bool:
        """Count and write one chunk; False once the feed turned out unreadable (stop there)."""
        for found, marker in chunk.rejected:
            self._reject(found, marker)
        self._received = chunk.received
        if chunk.feed_error is not None:
            self._feed_error = chunk.feed_error
            return False
        self._write(chunk)
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
            counts = IngestCounts(received, self._created, self._updated, self._unchanged, rejected)
        return FeedOutcome(status, counts, errors, self._errors_total, feed_error)

    def _reject(self, found: list[ItemError], marker: object) -> None:
        self._rejected += 1
        for error in found:
            self._errors_total += 1
            if len(self._errors) < self._errors_cap:
                location = self._fmt.locate(error.index, marker, error.field)
                self._errors.append(attrs.evolve(error, location=location))

    def _write(self, chunk: ValidatedChunk) -> None:
        """Report the chunk's repeats, then upsert the rest (unless an atomic feed failed)."""
        rows, indexes, markers = chunk.rows, chunk.indexes, chunk.markers
        for position in reversed(self._repeated_rows(chunk)):
            row = rows.pop(position)
            index = indexes.pop(position)
            marker = markers.pop(position)
            error = ItemError(
                index, row[1], "sku", ErrorCode.DUPLICATE, f"sku: {row[1]!r} appears earlier in this feed"
            )
            self._reject([error], marker)
        if rows and not (self._policy.atomic and self._rejected):
            written = self._sink.upsert(rows)
            self._created += written.created
            self._updated += written.updated
            self._unchanged += written.unchanged

    def _repeated_rows(self, chunk: ValidatedChunk) -> list[int]:
        """Positions of the chunk's rows whose SKU came earlier in the feed."""
        rows = chunk.rows
        # SKUs of invalid items count too: a valid item repeating them is a repeat.
        invalid = [(found[0].index, found[0].sku) for found, _ in chunk.rejected if found[0].sku is not None]
        if not invalid:
            return self._sink.repeated([row[1] for row in rows]) if rows else []
        # Feed order across valid and invalid items; -1 marks an invalid one.
        merged = sorted(
            [
                (index, row[1], position)
                for position, (index, row) in enumerate(zip(chunk.indexes, rows, strict=True))
            ]
            + [(index, sku, -1) for index, sku in invalid]
        )
        found = self._sink.repeated([sku for _, sku, _ in merged])
        return [merged[p][2] for p in found if merged[p][2] >= 0]
