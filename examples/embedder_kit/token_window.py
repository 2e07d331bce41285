"""An embedder's own rate limiter: a sliding log per key, with escalating blocks.

What a service embedding partner-catalog-ingest might write to keep its counts in a
place of its own. It implements the `RateLimiter` port and is held to the same contract
suite as the limiters this library ships (test_token_window.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from partner_ingest.ports.rate_limit import RateDecision


class TokenWindowLimiter:
    """Thread-safe; `now` is any monotonic clock in seconds (a fake one in tests)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._blocks: dict[str, tuple[float, int]] = {}  # key -> (blocked until, doublings)

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be positive")
        with self._lock:
            now = self._now()
            times = self._hits.setdefault(key, deque())
            while times and times[0] + window_seconds <= now:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return RateDecision(True, limit, limit - len(times), times[0] + window_seconds - now)
            # Room comes when the hit `limit` places from the newest leaves the window.
            retry = times[len(times) - limit] + window_seconds - now
            return RateDecision(False, limit, 0, times[0] + window_seconds - now, retry_after=retry)

    def block(
        self, key: str, base_seconds: float, max_seconds: float, forget_seconds: float = 3600.0
    ) -> float:
        if base_seconds <= 0 or max_seconds <= 0 or forget_seconds < 0:
            raise ValueError("block durations must be positive")
        with self._lock:
            now = self._now()
            until, level = self._blocks.get(key, (None, -1))
            if until is not None and until > now:
                return until - now
            level = level + 1 if until is not None and now - until < forget_seconds else 0
            seconds = min(base_seconds * 2.0 ** min(level, 60), max_seconds)
            self._blocks[key] = (now + seconds, level)
            return seconds

    def blocked_for(self, key: str) -> float:
        with self._lock:
            until, _ = self._blocks.get(key, (0.0, 0))
            return max(0.0, until - self._now())

    @property
    def available(self) -> bool:
        return True  # in process: it can always tell
