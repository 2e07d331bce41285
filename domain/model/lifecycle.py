"""The lifecycle of contract versions: current, deprecated with a sunset, or retired (ADR 0035).

The operator configures it (`PARTNER_INGEST_CONTRACT_LIFECYCLE`); every version not named
is current. A deprecated version is served until its sunset, with `Deprecation` (RFC 9745)
and `Sunset` (RFC 8594) headers and a warning in the report; from the sunset on, and for a
retired version at once, a feed under it is refused (`ContractVersionRetired`) naming the
versions still supported.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from .errors import UnreadableError

__all__ = [
    "ContractLifecycle",
    "ContractVersionRetired",
    "VersionLifecycle",
    "VersionStatus",
]


class VersionStatus(enum.StrEnum):
    """Where a contract version stands."""

    CURRENT = "current"
    DEPRECATED = "deprecated"
    """Still accepted until its sunset; move to a current version."""
    RETIRED = "retired"
    """Refused."""


class ContractVersionRetired(UnreadableError):
    """A feed under a version that is retired (or past its sunset): send a supported one."""

    code = "contract_version_retired"

    def __init__(self, version: int, sunset: datetime | None, supported: Iterable[int]) -> None:
        since = f" since {sunset.date().isoformat()}" if sunset is not None else ""
        self.version = version
        self.sunset = sunset
        self.supported = sorted(supported)
        super().__init__(
            f"contract version {version} is retired{since}: send one of versions "
            f"{', '.join(map(str, self.supported)) or '(none)'} (X-Feed-Version)"
        )

    @property
    def details(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sunset": None if self.sunset is None else self.sunset.isoformat(),
            "supported_versions": self.supported,
        }


@attrs.frozen
class VersionLifecycle:
    """One version's configured status. A deprecated version has a sunset; `deprecated_at` says
    since when (the `Deprecation` header's date; default: the configuration's first day)."""

    version: int
    status: VersionStatus
    sunset: datetime | None = None
    deprecated_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.status is VersionStatus.DEPRECATED and self.sunset is None:
            raise ValueError(f"version {self.version}: a deprecated version needs a sunset date")
        if self.sunset is not None and self.sunset.tzinfo is None:
            raise ValueError(f"version {self.version}: the sunset needs a time zone")

    def status_at(self, now: datetime) -> VersionStatus:
        """The status in force at `now`: a deprecated version is retired from its sunset on."""
        if self.status is VersionStatus.DEPRECATED and self.sunset is not None and now >= self.sunset:
            return VersionStatus.RETIRED
        return self.status

    def headers(self, now: datetime) -> dict[str, str]:
        """`Deprecation` (RFC 9745: `@<epoch seconds>`) and `Sunset` (RFC 8594: an HTTP-date) for a
        version deprecated at `now`; none otherwise."""
        if self.status_at(now) is not VersionStatus.DEPRECATED or self.sunset is None:
            return {}
        # Imported here: email.utils brings the email package into every process that
        # imports the domain, and only a deprecated version's answers need it (ADR 0039).
        from email.utils import format_datetime

        since = self.deprecated_at or now
        return {
            "Deprecation": f"@{int(since.timestamp())}",
            "Sunset": format_datetime(self.sunset.astimezone(UTC), usegmt=True),
        }

    def warning(self, now: datetime, supported: Iterable[int]) -> str | None:
        """The report's warning for a feed under this version at `now`, if deprecated."""
        if self.status_at(now) is not VersionStatus.DEPRECATED or self.sunset is None:
            return None
        others = [v for v in sorted(supported) if v != self.version]
        move = f": move to version {', '.join(map(str, others))}" if others else ""
        return (
            f"contract version {self.version} is deprecated and will be refused from "
            f"{self.sunset.isoformat()} (Sunset){move}"
        )


@attrs.frozen
class ContractLifecycle:
    """Every configured version's lifecycle; a version not configured is current."""

    versions: Mapping[int, VersionLifecycle] = attrs.field(factory=dict)

    @classmethod
    def of(cls, entries: Iterable[VersionLifecycle]) -> ContractLifecycle:
        """From configured entries, one per version (ValueError for a version named twice)."""
        found: dict[int, VersionLifecycle] = {}
        for entry in entries:
            if entry.version in found:
                raise ValueError(f"version {entry.version} is configured twice")
            found[entry.version] = entry
        return cls(found)

    def of_version(self, version: int) -> VersionLifecycle:
        """One version's lifecycle (current when not configured)."""
        return self.versions.get(version) or VersionLifecycle(version, VersionStatus.CURRENT)

    def headers(self, version: int, now: Callable[[], datetime]) -> dict[str, str]:
        """The answer headers of a feed under `version` (`VersionLifecycle.headers`). `now` is
        called only for a version configured with a sunset, the only kind that can be
        deprecated: every feed's answer asks, and most are under a current version."""
        entry = self.versions.get(version)
        if entry is None or entry.sunset is None:
            return {}
        return entry.headers(now())

    def supported(self, known: Iterable[int], now: datetime) -> list[int]:
        """The versions of `known` not retired at `now`."""
        return sorted(v for v in known if self.of_version(v).status_at(now) is not VersionStatus.RETIRED)

    def check(self, version: int, known: Iterable[int], now: datetime) -> VersionLifecycle:
        """The version's lifecycle; ContractVersionRetired when it is retired at `now`."""
        entry = self.of_version(version)
        if entry.status_at(now) is VersionStatus.RETIRED:
            raise ContractVersionRetired(version, entry.sunset, self.supported(known, now))
        return entry
