"""A clock that moves only when told, and ids that count: deterministic tests (T1)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock", "SequentialIds"]


class FakeClock:
    """Starts at a fixed moment; `advance()` moves it. `monotonic()` moves with it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._start = self._now

    def now(self) -> datetime:
        """The current fake moment."""
        return self._now

    def monotonic(self) -> float:
        """Seconds since the start."""
        return (self._now - self._start).total_seconds()

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward by `seconds` (or timedelta keywords: minutes=, hours=)."""
        self._now += timedelta(seconds=seconds, **delta)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to a moment (aware)."""
        self._now = moment


class SequentialIds:
    """`feed_000001`, `job_000002`, ...: one counter, readable in assertions."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        """The next id of `kind`."""
        with self._lock:
            return f"{kind}_{next(self._counter):06d}"
