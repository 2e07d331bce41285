"""The feed-format port: what a format plugin provides, and the registry the core reads.

A format turns a binary stream into raw items (and products back into bytes).
It never validates: validation is the domain's, the same for every format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Protocol, runtime_checkable

from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import Location

__all__ = ["FeedFormat", "FormatRegistrar", "FormatRegistry", "RawItem"]

RawItem = tuple[object, object]
"""A parsed item (a dict of JSON-like values) and a format-specific marker of where
it starts (a byte offset, a line number), handed back to `FeedFormat.locate` only
when the item has an error; it should be cheap to make."""


@runtime_checkable
class FeedFormat(Protocol):
    """One feed format in one version, e.g. ("json", 2)."""

    @property
    def name(self) -> str:
        """Short lowercase name: json, jsonl, csv, xml."""

    @property
    def version(self) -> int:
        """The feed (contract) version this format carries."""

    @property
    def media_types(self) -> tuple[str, ...]:
        """Media types that select this format; the first is the one to send."""

    @property
    def textual(self) -> bool:
        """True when every value arrives as text (CSV, XML), so "12.50" is a number here."""

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Yield the raw items of a document, one at a time, never the whole feed at once.

        Raises MalformedFeedError (with a feed-level ErrorCode) for a document that
        cannot be read or exceeds `limits`.
        """

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Where item `index` (started at `marker`) and its `field` are in the document."""

    def render(self, products: Iterable[Product]) -> bytes:
        """The products as a document of this format (examples, round-trip tests)."""


class FormatRegistrar(Protocol):
    """Handed to plugins by the `partner_ingest_register_formats` hook."""

    def __call__(self, feed_format: FeedFormat) -> None:
        """Register one (name, version); a key registered twice fails loudly, naming both."""


class FormatRegistry(Protocol):
    """Every registered format, as the use cases see them (never `pm.hook`)."""

    def get(self, name: str, version: int) -> FeedFormat:
        """The format; UnknownFormatError or UnknownVersionError when there is none."""

    def name_for_media_type(self, media_type: str) -> str:
        """Format name for a Content-Type (parameters ignored); UnknownFormatError otherwise."""

    def versions(self, name: str) -> Sequence[int]:
        """Versions available for a format name, ascending."""

    def all(self) -> Sequence[FeedFormat]:
        """Every registered format, sorted by (name, version)."""

    def media_types(self) -> Sequence[str]:
        """Every media type some format accepts."""
