"""The feed-format port: what a format plugin provides, and the registry the core reads.

A format turns a binary stream into raw items (and products back into bytes).
It never validates: validation is the domain's, the same for every format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast, runtime_checkable

if TYPE_CHECKING:
    # Named in annotations only: the CLI finds a file's format at every start, and needs
    # neither the product model nor the feed's context for it.
    from partner_ingest.domain.model.feed_source import FeedContext, FormatMapping
    from partner_ingest.domain.model.policy import FeedLimits
    from partner_ingest.domain.model.product import Product
    from partner_ingest.domain.model.report import Location

__all__ = [
    "DescribedFormat",
    "FileFormat",
    "FeedFormat",
    "FormatRegistrar",
    "FormatRegistry",
    "PartnerAwareFormat",
    "PatchingFormat",
    "RawItem",
    "for_partner",
    "for_patches",
    "format_for_file",
]

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


@runtime_checkable
class PartnerAwareFormat(Protocol):
    """Optional for a `FeedFormat`: its documents leave out something a partner's settings supply.

    The core calls `for_partner` once per feed, before `parse`, and reads the feed
    with the format it returns; formats without the method are used as they are.
    """

    def for_partner(self, context: FeedContext) -> FeedFormat:
        """This format (same name, version and media types) reading for one partner."""


@runtime_checkable
class PatchingFormat(Protocol):
    """Optional for a `FeedFormat`: its documents must be whole products unless told otherwise.

    The core calls `for_patches` for a patch feed (ADR 0036), whose items carry only the
    fields that change, and reads the feed with the format it returns (the built-in CSV
    format stops refusing a header without every required field's column).
    """

    def for_patches(self) -> FeedFormat:
        """This format reading items that may leave required fields out."""


@runtime_checkable
class DescribedFormat(Protocol):
    """Optional for a `FeedFormat` of a foreign document: its mapping and a sample document.

    The contract publishes the mapping beside the format, and the sample is the
    format's example (`/partner/contract/example`) instead of a rendered product.
    """

    @property
    def mapping(self) -> FormatMapping:
        """Which source attribute fills which canonical field, and what is not carried."""

    def sample(self) -> bytes:
        """A document of this format, written from its public specification."""


@runtime_checkable
class FileFormat(Protocol):
    """Optional for a `FeedFormat`: the file name extensions its documents go by, so that a file's
    format can be guessed from its name (the CLI's `ingest` and `validate` without --format)."""

    @property
    def file_extensions(self) -> tuple[str, ...]:
        """Lowercase, with the dot: (".tsv",). An extension two formats claim guesses neither."""


def format_for_file(formats: FormatRegistry, file_name: str) -> str | None:
    """The name of the one format whose declared extensions end `file_name` (case-insensitive);
    None when none does, or when formats of different names claim it."""
    lowered = file_name.lower()
    found = {
        feed_format.name
        for feed_format in formats.all()
        if isinstance(feed_format, FileFormat)
        and any(lowered.endswith(extension) for extension in feed_format.file_extensions)
    }
    return found.pop() if len(found) == 1 else None


def for_partner(feed_format: FeedFormat, context: FeedContext) -> FeedFormat:
    """The format that reads `context`'s partner's feeds: bound to it where the format asks."""
    # What isinstance(feed_format, PartnerAwareFormat) asks (the method is there), without the
    # runtime protocol check's own cost: it runs for every feed, in the writer thread.
    bind = getattr(feed_format, "for_partner", None)
    return feed_format if bind is None else cast("FeedFormat", bind(context))


def for_patches(feed_format: FeedFormat) -> FeedFormat:
    """The format that reads a patch feed: relaxed where the format asks."""
    if isinstance(feed_format, PatchingFormat):
        return feed_format.for_patches()
    return feed_format


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
