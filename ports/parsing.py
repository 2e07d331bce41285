"""The feed-parsing port: where the pipeline's front half (parse and validate) runs.

By default it runs in the ingesting thread (`validated_chunks`). A large feed
spends most of its time there, in Python, while SQLite waits; an adapter may run
it in another process instead, so that parsing one batch overlaps writing the
one before (ADR 0019). Whatever runs it must yield exactly the chunks
`validated_chunks` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.validation import ItemValidator

from .formats import FeedFormat

__all__ = ["FeedParsing"]


class FeedParsing(Protocol):
    """Runs the front half of the pipeline for one feed."""

    def chunks(
        self,
        fmt: FeedFormat,
        stream: BinaryIO,
        validator: ItemValidator,
        limits: FeedLimits,
        batch_size: int,
    ) -> Iterator[ValidatedChunk]:
        """The feed's chunks, as `validated_chunks(fmt, stream, validator, limits, batch_size)`
        yields them, reading `stream` at least as far as the format's parser would (the
        caller may be hashing it). If the iterator has a `close`, the pipeline calls it
        when done, early or not."""
