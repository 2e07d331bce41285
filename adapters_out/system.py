"""The real clock and id source."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Final

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
        # uuid.uuid4().hex, the same bits from the same source, without building the UUID
        # object: its checks cost five times the random bytes, on every feed (ADR 0046).
        return f"{kind}_{int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET:032x}"


_UUID4_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
"""The variant's two bits and the version's four, cleared (as `uuid.UUID(version=4)` does)."""
_UUID4_SET: Final = (0x8000 << 48) | (4 << 76)
"""Then set: the RFC 4122 variant, version 4."""
