"""Who is calling: the client address (behind trusted proxies only) and the API key (S1, S3).

The decision itself is `AccessGuard`'s (ADR 0003, 0006): this module finds the
address and the presented key, asks the guard, and keeps the key's quota
decision for the RateLimit response fields (set by the middleware on every
answer, errors included). A refusal is raised as the guard's own `AccessError`;
errors.py maps it.

The presented key is passed to the guard and nowhere else: never logged,
never echoed, never put in an exception message.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Final

from starlette.requests import Request
from starlette.types import Scope

from partner_ingest.domain.model.api_keys import KeyRole, Principal
from partner_ingest.domain.use_cases.access_errors import (
    AccessError,
    Forbidden,
    KeyRateLimited,
    TooManyRequests,
)
from partner_ingest.domain.use_cases.authenticate import WINDOW_SECONDS, Granted
from partner_ingest.ports.rate_limit import RateDecision

from ._context import Network, context, request_header, request_info

__all__ = [
    "authorize",
    "client_address",
    "presented_key",
    "rate_limit_headers",
    "rate_limit_values",
    "retry_after",
]

MAX_FORWARDED_HOPS: Final = 32
"""More hops than any real proxy chain; the rest of a longer header is not read."""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in trusted)


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The address failed authentications count against.

    The TCP peer, unless the peer is a trusted proxy: then X-Forwarded-For is read
    from the right (the hop our own proxy appended) leftwards, skipping trusted
    proxies, and the first address that is not one is the client. Entries left of
    it were written by the client itself and prove nothing. An untrusted peer's
    X-Forwarded-For is ignored entirely, so no caller can choose its own address.
    """
    peer = scope.get("client")
    host = str(peer[0]) if peer and peer[0] else None
    if not host:
        return "unknown"
    if not trusted:  # no proxy to look behind: the peer, without parsing it
        return host
    address = _ip(host)
    if address is None or not _trusted(address, trusted):
        return host
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(part for part in value.decode("latin-1").split(","))
    client = str(address)
    for hop in reversed(hops[-MAX_FORWARDED_HOPS:]):
        found = _ip(hop)
        if found is None:
            break  # a garbled entry can only come from the client's side: stop at the last trusted hop
        client = str(found)
        if not _trusted(found, trusted):
            break
    return client


def presented_key(request: Request) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer <key>`; None when absent."""
    key = request_header(request, "x-api-key")
    if key is not None:
        return key.strip()
    scheme, _, credentials = (request_header(request, "authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


async def authorize(request: Request, role: KeyRole) -> Principal:
    """The principal of this request's key for a route needing `role`; raises the guard's refusal."""
    ctx = context(request)
    info = request_info(request)
    guard = ctx.app.guard
    key = presented_key(request)
    # A key verified a moment ago, with the limits counted in this process, is decided here
    # (no read, no write, microseconds); anything else in a request thread (ADR 0045).
    outcome: Granted | AccessError | None = guard.decide_at_once(key, info.client, role=role)
    if outcome is None:
        outcome = await ctx.request_threads.run(guard.decide, key, info.client, role=role)
    if isinstance(outcome, Granted | Forbidden | KeyRateLimited):
        info.principal = outcome.principal
        info.rate = outcome.rate
        if outcome.rate.degraded:
            ctx.metrics.degraded.inc()
    if isinstance(outcome, Granted):
        info.partner = outcome.partner
        return outcome.principal
    if isinstance(outcome, TooManyRequests):
        ctx.metrics.rate_limited.labels(reason=outcome.code).inc()
    raise outcome


def retry_after(seconds: float) -> str:
    """Retry-After (RFC 9110): whole seconds, rounded up, at least 1."""
    return str(max(1, _whole_seconds(seconds)))


def _whole_seconds(seconds: float) -> int:
    """`seconds` rounded up to whole seconds, past the float noise a limiter's sums carry: a
    first hit's reset is `(now + window) - now`, which can read 60.00000000000001, and a
    plain ceil made that a 61 s wait for a 60 s window."""
    return math.ceil(seconds - _NOISE)


_NOISE: Final = 1e-6
"""A microsecond: finer than any limiter's clock (Redis counts in microseconds)."""


def rate_limit_headers(rate: RateDecision) -> dict[str, str]:
    """The key's quota as IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers, ADR 0003)."""
    policy, now = rate_limit_values(rate)
    return {"RateLimit-Policy": policy, "RateLimit": now}


def rate_limit_values(rate: RateDecision) -> tuple[str, str]:
    """The values of `RateLimit-Policy` and `RateLimit`, in that order (`rate_limit_headers`)."""
    return (
        f'"key";q={rate.limit};w={_WINDOW}',
        f'"key";r={max(rate.remaining, 0)};t={_whole_seconds(rate.reset_after)}',
    )


_WINDOW: Final = int(WINDOW_SECONDS)
