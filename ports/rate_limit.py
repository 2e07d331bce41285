"""The rate-limit port: a sliding window per key, and blocks for repeat offenders (S1).

Two adapters implement it (ADR 0015): an in-process sliding log and a Redis one
shared by every instance. Both pass tests/integration/test_rate_limiter_contract.py.

A limiter that keeps its counts elsewhere can fail to reach them. What it answers
then is its `FailurePolicy`, chosen when it is built, once per *use*: the access
guard takes one limiter for failed-authentication throttling (fail closed) and
one for per-key quotas (may fail open); see `AccessGuard`.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

__all__ = ["FailurePolicy", "RateDecision", "RateLimiter"]


class FailurePolicy(enum.StrEnum):
    """What a limiter answers while its store is unreachable (ADR 0015)."""

    OPEN = "open"
    """Allow every hit, block nothing, and flag each decision `degraded`."""
    CLOSED = "closed"
    """Refuse every hit and report every key as blocked, for a short retry period."""


@attrs.frozen
class RateDecision:
    """The answer for one request: allowed or not, and what to tell the client."""

    allowed: bool
    limit: int
    remaining: int
    """Hits left in the current window after this one (RateLimit `r=`)."""
    reset_after: float
    """Seconds until the oldest counted hit leaves the window, freeing one unit of the
    quota (RateLimit `t=`); 0 when nothing is counted."""
    retry_after: float = 0.0
    """Seconds the client must wait when not allowed (Retry-After); 0 when allowed."""
    degraded: bool = False
    """The store could not be reached; this answer is the limiter's failure policy."""


class RateLimiter(Protocol):
    """Counts hits per key over a sliding window, and blocks keys; in-process or Redis.

    Guarantee: for any key and any interval of `window_seconds`, at most `limit`
    hits are allowed (a refused hit is not counted, so a client that keeps
    knocking gets in again as soon as the window has room).
    """

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit for `key` if it fits within `limit` per window; say whether it did."""

    def block(
        self, key: str, base_seconds: float, max_seconds: float, forget_seconds: float = 3600.0
    ) -> float:
        """Block `key` for `base_seconds`, doubled for each earlier block that ended less than
        `forget_seconds` ago, capped at `max_seconds`. A key already blocked stays as it is.
        Returns the seconds it is now blocked for."""

    def blocked_for(self, key: str) -> float:
        """Seconds `key` stays blocked (0 when it is not)."""

    @property
    def available(self) -> bool:
        """False while the limiter's store cannot be reached (its answers are then its failure
        policy's), so a caller can tell "blocked" from "cannot tell" (an in-process one: always True)."""
