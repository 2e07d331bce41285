"""Why a request may not proceed: the answers of `AccessGuard` (ADR 0003, ADR 0006).

`AccessGuard.decide` returns one of these as a value (and `require` raises it).
The HTTP layer maps them in one place:

- `Unauthenticated`  -> 401, `WWW-Authenticate: Bearer`
- `Forbidden`        -> 403
- `TooManyRequests`  -> 429, `Retry-After: ceil(retry_after)`; a `KeyRateLimited` also
  carries the key's `RateDecision` for the RateLimit fields.
- `LimiterUnavailable` -> 503, `Retry-After`: the failed-authentication limits cannot be
  read (Redis down), so no request is let through, and none is blamed on the client.

Each carries only what is safe to send back: never whether a key id exists.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from partner_ingest.domain.model.api_keys import Principal
from partner_ingest.domain.model.errors import (
    DeniedError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)
from partner_ingest.ports.rate_limit import RateDecision

__all__ = [
    "AccessError",
    "ClientBlocked",
    "Forbidden",
    "KeyRateLimited",
    "LimiterUnavailable",
    "TooManyRequests",
    "Unauthenticated",
]

UNAUTHENTICATED_MESSAGE: Final = "a valid API key is required"


class Unauthenticated(UnauthenticatedError):
    """No valid key. Missing, malformed, unknown, revoked and expired look exactly alike."""

    code = "unauthenticated"

    def __init__(self) -> None:
        super().__init__(UNAUTHENTICATED_MESSAGE)


class Forbidden(DeniedError):
    """A valid key that may not do this (a partner key on an admin route)."""

    code = "forbidden"

    def __init__(self, principal: Principal, rate: RateDecision) -> None:
        super().__init__("this key may not use this operation")
        self.principal = principal
        self.rate = rate


class TooManyRequests(RateLimitedError):
    """Slow down: come back after `retry_after` seconds."""

    code = "too_many_requests"


class ClientBlocked(TooManyRequests):
    """Too many failed authentications from this client address; it is blocked for a while."""

    code = "too_many_failed_attempts"

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed authentication attempts from this address", retry_after)


class KeyRateLimited(TooManyRequests):
    """A valid key over its own per-minute quota."""

    code = "rate_limited"

    def __init__(self, principal: Principal, rate: RateDecision) -> None:
        super().__init__(f"rate limit of {rate.limit} requests per minute exceeded", rate.retry_after)
        self.principal = principal
        self.rate = rate

    @property
    def details(self) -> dict[str, Any]:
        return {"limit_per_minute": self.rate.limit}


class LimiterUnavailable(UnavailableError):
    """The store of the failed-authentication limits cannot be reached: refused until it can (ADR 0015)."""

    code = "rate_limiter_unavailable"

    def __init__(self) -> None:
        super().__init__("the rate-limit store cannot be reached; retry shortly")


AccessError: TypeAlias = Unauthenticated | Forbidden | TooManyRequests | LimiterUnavailable
"""Every answer that stops a request here."""
