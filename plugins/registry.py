"""The format registry: every (format, version) a plugin registered, and who registered it."""

from __future__ import annotations

from collections.abc import Sequence

from partner_ingest.domain.model.errors import IngestError, UnknownFormatError, UnknownVersionError
from partner_ingest.ports.formats import FeedFormat, FormatRegistrar

__all__ = ["DuplicateFormatError", "FormatRegistry"]


class DuplicateFormatError(IngestError):
    """Two plugins claim the same (format, version) or media type: refused at start-up."""

    code = "duplicate_format"


def media_type_of(content_type: str) -> str:
    """`Application/JSON; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


class FormatRegistry:
    """Formats keyed by (name, version); refuses duplicates loudly, naming both plugins."""

    def __init__(self) -> None:
        self._formats: dict[tuple[str, int], tuple[FeedFormat, str]] = {}
        self._media: dict[str, tuple[str, str]] = {}

    def registrar(self, plugin: str) -> FormatRegistrar:
        """The `register` callable handed to one plugin's hook implementation."""

        def register(feed_format: FeedFormat) -> None:
            self.register(feed_format, plugin=plugin)

        return register

    def register(self, feed_format: FeedFormat, *, plugin: str) -> None:
        """Add one format; DuplicateFormatError when its key or a media type is taken."""
        if not isinstance(feed_format, FeedFormat):
            raise TypeError(f"plugin {plugin!r} registered {feed_format!r}, which is not a FeedFormat")
        key = (feed_format.name, feed_format.version)
        if key in self._formats:
            other = self._formats[key][1]
            raise DuplicateFormatError(
                f"feed format {key[0]} v{key[1]} is registered twice: by plugin {other!r} and by plugin {plugin!r}"
            )
        for media_type in feed_format.media_types:
            media_type = media_type_of(media_type)
            owner = self._media.get(media_type)
            if owner is not None and owner[0] != feed_format.name:
                raise DuplicateFormatError(
                    f"media type {media_type} is claimed by format {owner[0]!r} (plugin {owner[1]!r}) "
                    f"and by format {feed_format.name!r} (plugin {plugin!r})"
                )
        self._formats[key] = (feed_format, plugin)
        for media_type in feed_format.media_types:
            self._media.setdefault(media_type_of(media_type), (feed_format.name, plugin))

    def get(self, name: str, version: int) -> FeedFormat:
        """The format; UnknownFormatError or UnknownVersionError when there is none."""
        found = self._formats.get((name, version))
        if found is not None:
            return found[0]
        versions = self.versions(name)
        if not versions:
            raise UnknownFormatError(name, sorted({n for n, _ in self._formats}))
        raise UnknownVersionError(name, version, versions)

    def name_for_media_type(self, media_type: str) -> str:
        """Format name for a Content-Type; UnknownFormatError otherwise."""
        found = self._media.get(media_type_of(media_type))
        if found is None:
            raise UnknownFormatError(media_type, self.media_types())
        return found[0]

    def versions(self, name: str) -> Sequence[int]:
        """Versions of one format, ascending."""
        return sorted(v for n, v in self._formats if n == name)

    def all(self) -> Sequence[FeedFormat]:
        """Every format, by (name, version)."""
        return [self._formats[key][0] for key in sorted(self._formats)]

    def media_types(self) -> Sequence[str]:
        """Every accepted media type, sorted."""
        return sorted(self._media)

    def plugin_of(self, name: str, version: int) -> str:
        """Which plugin registered a format (for diagnostics)."""
        return self._formats[(name, version)][1]
