"""Recognizing a feed sent again: by its Idempotency-Key, or by its content and terms.

A feed's outcome depends on its bytes and on the terms it is processed under
(format, version, validation mode, atomic, error budget, feed mode). `FeedFingerprint`
holds all of them, so that

- the same content sent again under the same terms is answered with the
  earlier report and not applied twice, while the same bytes under other
  terms (another version, mode or atomic flag) are processed under those terms;
- an Idempotency-Key names one request: repeated with the same fingerprint it
  answers the first result, repeated with another it is refused
  (`IdempotencyKeyReused`, naming what differs), whether the first was
  processed at once or as a job: both share one key space per partner (`KeyUse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .feed_mode import FeedMode
from .policy import Mode

__all__ = ["FeedFingerprint", "KeyUse"]

_NAMES: Final = {
    "content_hash": "body",
    "format": "format",
    "version": "version",
    "mode": "validation_mode",
    "atomic": "atomic",
    "max_error_ratio": "max_error_ratio",
    "feed_mode": "feed_mode",
}


@attrs.frozen
class FeedFingerprint:
    """Everything that decides a feed's outcome. A term is None where it is unknown: a
    key recorded before fingerprints were kept knows only the body, format and version."""

    content_hash: str
    """SHA-256 (hex) of the body as received (decompressed)."""
    format: str
    version: int
    mode: Mode | None
    atomic: bool | None
    max_error_ratio: float | None
    feed_mode: FeedMode | None = None
    """upsert, snapshot or patch; None where it was recorded before feeds had modes (upsert)."""

    def differences(self, other: FeedFingerprint) -> list[str]:
        """The terms (in the partner's words: body, format, version, validation_mode, ...)
        in which the two differ; a term unknown to either is not compared."""
        differs = []
        for field, name in _NAMES.items():
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine is not None and theirs is not None and mine != theirs:
                differs.append(name)
        return differs

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (stored with the import and the key)."""
        return {
            "content_hash": self.content_hash,
            "format": self.format,
            "version": self.version,
            "mode": None if self.mode is None else str(self.mode),
            "atomic": self.atomic,
            "max_error_ratio": self.max_error_ratio,
            "feed_mode": None if self.feed_mode is None else str(self.feed_mode),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeedFingerprint:
        """Inverse of `to_json`."""
        mode = data.get("mode")
        ratio = data.get("max_error_ratio")
        atomic = data.get("atomic")
        feed_mode = data.get("feed_mode")
        return cls(
            content_hash=str(data["content_hash"]),
            format=str(data["format"]),
            version=int(data["version"]),
            mode=None if mode is None else Mode(mode),
            atomic=None if atomic is None else bool(atomic),
            max_error_ratio=None if ratio is None else float(ratio),
            feed_mode=None if feed_mode is None else FeedMode(feed_mode),
        )


@attrs.frozen
class KeyUse:
    """A partner's Idempotency-Key and the request it was first used for: a feed processed
    at once (`feed_id`) or submitted as a job (`job_id`)."""

    partner_id: str
    key: str
    fingerprint: FeedFingerprint
    created_at: datetime
    feed_id: str | None = None
    job_id: str | None = None
