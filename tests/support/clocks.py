"""A real clock a test can move forward: time as the service sees it, minus the waiting.

A test about what happens *after* a lifetime ends (a session, a lease) would otherwise sleep
the lifetime out on the wall clock, holding its worker; a lifetime short enough to wait out
cheaply is also short enough to run out during the steps before it, on a loaded machine.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from partner_ingest.adapters_out.system import SystemClock

__all__ = ["SkippableClock"]


class SkippableClock:
    """The system clock plus whatever `skip()` has added, in both `now()` and `monotonic()`."""

    def __init__(self) -> None:
        self._system = SystemClock()
        self._ahead = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The real moment, plus the skipped seconds."""
        return self._system.now() + timedelta(seconds=self._ahead)

    def monotonic(self) -> float:
        """The real monotonic reading, plus the skipped seconds (it still never goes back)."""
        return self._system.monotonic() + self._ahead

    def skip(self, seconds: float) -> None:
        """Jump `seconds` into the future at once, as if they had been waited out."""
        if seconds < 0:
            raise ValueError("a clock that never goes back skips forward only")
        with self._lock:
            self._ahead += seconds
