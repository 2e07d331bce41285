"""The rate-limit port: a sliding window per key, and blocks for repeat offenders (S1)."""

from __future__ import annotations

from typing import Protocol

import attrs

__all__ = ["RateDecision", "RateLimiter"]


@attrs.frozen
class RateDecision:
    """The answer for one request: allowed or not, and what to tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the window has room again (RateLimit-Reset)."""
    retry_after: float = 0.0
    """Seconds the client must wait when not allowed (Retry-After)."""


class RateLimiter(Protocol):
    """Counts hits per key over a sliding window; implementations: in-process and Redis."""

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit for `key` if it fits within `limit` per window; say whether it did."""

    def block(self, key: str, base_seconds: float, max_seconds: float) -> float:
        """Block `key`; each block within the max period doubles the previous. Returns seconds."""

    def blocked_for(self, key: str) -> float:
        """Seconds `key` stays blocked (0 when it is not)."""
