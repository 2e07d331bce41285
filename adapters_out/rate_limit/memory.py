"""The in-process rate limiter: an exact sliding log per key, with blocks (ADR 0015).

For one process (the embedded default, tests). Each key keeps the times of the
hits it allowed within its window; a hit is allowed while fewer than `limit`
remain. Memory is bounded: idle keys are swept out, and past `max_keys` the least
recently used ones are dropped (forgetting a key lets it start afresh, so size
`max_keys` well above the number of clients active within one window). A log
holds at most `limit` times, so limits in the thousands per minute are fine;
for far larger ones a sliding-window counter would be the better trade.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

import attrs

from partner_ingest.ports.clock import Clock
from partner_ingest.ports.rate_limit import RateDecision

__all__ = ["InProcessRateLimiter"]

_MAX_DOUBLINGS = 60  # 2**60 times any base exceeds every sensible maximum


@attrs.define
class _Log:
    window: float
    times: deque[float] = attrs.Factory(deque)


@attrs.define
class _Block:
    until: float
    level: int
    forget: float


class InProcessRateLimiter:
    """A thread-safe sliding log keyed by string, timed by `clock.monotonic()`."""

    def __init__(self, clock: Clock, *, max_keys: int = 100_000, sweep_every: int = 1024) -> None:
        if max_keys < 1 or sweep_every < 1:
            raise ValueError("max_keys and sweep_every must be positive")
        self._clock = clock
        self._max_keys = max_keys
        self._sweep_every = sweep_every
        self._lock = threading.Lock()
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self._blocks: dict[str, _Block] = {}
        self._calls = 0

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit if fewer than `limit` were allowed in the last `window_seconds`."""
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be positive")
        now = self._clock.monotonic()
        with self._lock:
            self._tick(now)
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = _Log(window_seconds)
                if len(self._logs) > self._max_keys:
                    self._logs.popitem(last=False)
            else:
                self._logs.move_to_end(key)
                log.window = window_seconds
            times = log.times
            # A hit has left the window when hit + window <= now: the same sum as the wait
            # below, so a refused hit never gets a wait of 0 from a rounding difference.
            while times and times[0] + window_seconds <= now:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return RateDecision(
                    allowed=True,
                    limit=limit,
                    remaining=limit - len(times),
                    reset_after=times[0] + window_seconds - now,
                )
            # Normally len(times) == limit; more when the limit was lowered since. Room comes
            # when the hit at position len - limit leaves the window.
            wait = times[len(times) - limit] + window_seconds - now
            return RateDecision(
                allowed=False,
                limit=limit,
                remaining=0,
                reset_after=times[0] + window_seconds - now,
                retry_after=wait,
            )

    def block(
        self, key: str, base_seconds: float, max_seconds: float, forget_seconds: float = 3600.0
    ) -> float:
        """Block `key`, doubling after each block that ended within `forget_seconds`."""
        if base_seconds <= 0 or max_seconds <= 0 or forget_seconds < 0:
            raise ValueError("block durations must be positive")
        now = self._clock.monotonic()
        with self._lock:
            self._tick(now)
            previous = self._blocks.get(key)
            if previous is not None and previous.until > now:
                return previous.until - now
            level = 0
            if previous is not None and now - previous.until < forget_seconds:
                level = min(previous.level + 1, _MAX_DOUBLINGS)
            seconds = min(base_seconds * 2.0**level, max_seconds)
            self._blocks[key] = _Block(until=now + seconds, level=level, forget=forget_seconds)
            return seconds

    def blocked_for(self, key: str) -> float:
        """Seconds `key` stays blocked, 0 when it is not."""
        now = self._clock.monotonic()
        with self._lock:
            block = self._blocks.get(key)
            return max(0.0, block.until - now) if block is not None else 0.0

    @property
    def available(self) -> bool:
        """Always: the counts live in this process."""
        return True

    @property
    def tracked_keys(self) -> int:
        """How many keys are held in memory (hit logs and block records)."""
        with self._lock:
            return len(self._logs) + len(self._blocks)

    def sweep(self) -> None:
        """Drop every idle key now (also done every `sweep_every` calls)."""
        now = self._clock.monotonic()
        with self._lock:
            self._sweep(now)

    def _tick(self, now: float) -> None:
        # Hit logs are in least-recently-used order, so idle ones gather at the front:
        # dropping them as they appear costs O(1) amortized per call.
        logs = self._logs
        while logs:
            log = next(iter(logs.values()))
            if log.times and log.times[-1] + log.window > now:
                break
            logs.popitem(last=False)
        self._calls += 1
        if self._calls % self._sweep_every == 0:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        idle = [key for key, log in self._logs.items() if not log.times or log.times[-1] + log.window <= now]
        for key in idle:
            del self._logs[key]
        # A block is kept until it can no longer double the next one.
        done = [key for key, block in self._blocks.items() if block.until + block.forget <= now]
        for key in done:
            del self._blocks[key]
        if len(self._blocks) > self._max_keys:
            # Keep the blocks that last longest: dropping one lets an offender back in early.
            keep = sorted(self._blocks.items(), key=lambda item: item[1].until, reverse=True)
            self._blocks = dict(keep[: self._max_keys])
