"""The real clock and id source."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

__all__ = ["SystemClock", "UuidIds"]


class SystemClock:
    """Wall-clock UTC time and the OS monotonic clock."""

    def now(self) -> datetime:
        """The current moment, aware, UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()


class UuidIds:
    """Random, unguessable ids: `feed_6f1c...` (uuid4, 122 random bits)."""

    def new_id(self, kind: str) -> str:
        """A fresh id of `kind`."""
        return f"{kind}_{uuid.uuid4().hex}"
