"""The streaming heart of every ingest: parse -> validate -> drop repeats -> upsert, in batches.

One feed flows through here item by item. Nothing holds the whole feed: items
are parsed one at a time, validated into storage rows, and written in bounded
batches (bounded also so that CPython's cyclic GC never sees more than a batch
of live objects). Writes go to a `FeedSink` (feed_sinks.py), so the same loop serves a real
ingest (the unit of work) and a dry validation (no database at all).

Two halves: the front half parses and validates (`FeedReading` in domain/model/reading.py,
a value of the model: pure computation), and the back half (`BackHalf` in back_half.py)
drops repeats, writes and counts. A `FeedParsing` may run the front half in another process
while this one writes (ADR 0019); the chunks, and so the outcome, are the same
wherever it ran.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from typing import BinaryIO, Final

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.domain.model.streams import RawReader
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.ports.formats import FeedFormat, for_patches
from partner_ingest.ports.parsing import FeedParsing

from .back_half import BackHalf, FeedOutcome
from .feed_sinks import FeedSink, SetSink

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
    back = BackHalf(fmt, policy, sink, errors_cap, reading.validator)
    with parsing.open(reading, stream) as chunks:
        for chunk in chunks:
            if not back.take(chunk):
                break  # a feed that cannot be read is not written
            if on_items is not None:
                on_items(chunk.received)
    return back.outcome()
