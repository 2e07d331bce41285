"""The format registry: every (format, version) a plugin registered, and who registered it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from partner_ingest.domain.model.errors import (
    ConflictError,
    InvalidError,
    UnknownFormatError,
    UnknownVersionError,
)
from partner_ingest.domain.model.rules import CONTRACTS
from partner_ingest.ports.formats import FeedFormat, FormatRegistrar

__all__ = ["DuplicateFormatError", "FormatRegistry", "InvalidFormatError"]


class DuplicateFormatError(ConflictError):
    """Two plugins claim the same (format, version) or media type: refused at start-up."""

    code = "duplicate_format"

    def __init__(self, message: str, *, claimed: str, plugins: tuple[str, str]) -> None:
        super().__init__(message)
        self.claimed = claimed
        """What both claim: `json v2`, or a media type."""
        self.plugins = plugins
        """The plugin that registered it first, and the one refused."""


class InvalidFormatError(InvalidError):
    """A plugin registered something that cannot serve as a feed format: refused at start-up."""

    code = "invalid_format"

    def __init__(self, message: str, *, plugin: str) -> None:
        super().__init__(message)
        self.plugin = plugin


_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MEDIA_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


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
        """Add one format; DuplicateFormatError when its key or a media type is taken,
        InvalidFormatError when it is no FeedFormat or carries no known contract version."""
        _check(feed_format, plugin)
        key = (feed_format.name, feed_format.version)
        if key in self._formats:
            other = self._formats[key][1]
            raise DuplicateFormatError(
                f"feed format {key[0]} v{key[1]} is registered twice: by plugin {other!r} and by plugin {plugin!r}",
                claimed=f"{key[0]} v{key[1]}",
                plugins=(other, plugin),
            )
        for media_type in feed_format.media_types:
            media_type = media_type_of(media_type)
            owner = self._media.get(media_type)
            if owner is not None and owner[0] != feed_format.name:
                raise DuplicateFormatError(
                    f"media type {media_type} is claimed by format {owner[0]!r} (plugin {owner[1]!r}) "
                    f"and by format {feed_format.name!r} (plugin {plugin!r})",
                    claimed=media_type,
                    plugins=(owner[1], plugin),
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


def _check(feed_format: object, plugin: str) -> None:
    """Refuse at start-up what would otherwise fail on a partner's first feed."""
    if not isinstance(feed_format, FeedFormat):
        raise InvalidFormatError(
            f"plugin {plugin!r} registered {feed_format!r}, which is not a FeedFormat "
            "(name, version, media_types, textual, parse, locate, render)",
            plugin=plugin,
        )
    # Read as plain objects: a plugin's types are a promise, checked here.
    name: object = feed_format.name
    version: object = feed_format.version
    media_types: object = feed_format.media_types
    textual: object = feed_format.textual
    problem = None
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problem = f"its name {name!r} is not a short lowercase word"
    elif type(version) is not int or version not in CONTRACTS:
        problem = f"its version {version!r} has no contract (known: {', '.join(map(str, sorted(CONTRACTS)))})"
    elif not isinstance(media_types, tuple) or not media_types:
        problem = "it declares no media types (a non-empty tuple)"
    elif not all(isinstance(m, str) and _MEDIA_TYPE.fullmatch(media_type_of(m)) for m in media_types):
        problem = f"its media types {media_types!r} are not all of the form type/subtype"
    elif not isinstance(textual, bool):
        problem = "its `textual` is not a bool"
    if problem is not None:
        raise InvalidFormatError(
            f"plugin {plugin!r} registered format {name!r}, but {problem}", plugin=plugin
        )
