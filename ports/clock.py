"""Time and identifiers, as ports: the core never reads the clock or a random source itself."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdSource"]


class Clock(Protocol):
    """Wall-clock time (aware, UTC) and a monotonic counter for durations."""

    def now(self) -> datetime:
        """The current moment, timezone-aware in UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and windows)."""


class IdSource(Protocol):
    """New unique identifiers for feeds, jobs, schedules, leases."""

    def new_id(self, kind: str) -> str:
        """A fresh id, prefixed by its kind (`feed_...`, `job_...`) for readability in logs."""
