"""The feed-parsing port: where the pipeline's front half (parse and validate) runs.

The front half is a value of the model, `FeedReading`. By default it runs in
the ingesting thread. A large feed spends most of its time there, in Python,
while the store waits; an adapter may carry the reading to another process
instead, so that parsing one batch overlaps writing the one before (ADR 0019).
Whatever runs it must yield exactly the chunks `reading.chunks(stream)` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from partner_ingest.domain.model.chunk import ValidatedChunk
    from partner_ingest.domain.model.reading import FeedReading

__all__ = ["FeedParsing"]


class FeedParsing(Protocol):
    """Runs the front half of the pipeline for one feed."""

    def open(
        self, reading: FeedReading, stream: BinaryIO
    ) -> AbstractContextManager[Iterator[ValidatedChunk]]:
        """The feed's chunks, as `reading.chunks(stream)` yields them, reading `stream` at least
        as far as the format's parser would (the caller may be hashing it). Leaving the
        context releases whatever ran them (a helper process), whether every chunk was
        taken or not."""
        ...
