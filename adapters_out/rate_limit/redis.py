"""The Redis rate limiter: the same sliding log, shared by every instance (ADR 0015).

Each decision is one Lua script, so it is atomic across instances: no two
instances can both see room for the last hit. The scripts read the Redis server's
`TIME`, so instances with skewed clocks still agree on every window, and every key
they write carries a PEXPIRE, so nothing needs cleaning up. All keys start with a
prefix (one per deployment, or per test run). Needs Redis 5 or later (scripts that
read TIME before writing are replicated by effect).

When Redis cannot be reached, the limiter answers by its `FailurePolicy` instead of
raising (see the port), logs the outage once, and for `pause_after_error` seconds
does not even try, so a Redis that drops packets does not add a connect timeout to
every request.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import redis

from partner_ingest.adapters_out.redis_calls import UNAVAILABLE, ScriptGate, request_path_client
from partner_ingest.ports.rate_limit import FailurePolicy, RateDecision

__all__ = ["RedisRateLimiter"]

log = logging.getLogger(__name__)

_MICROS: Final = 1_000_000

# KEYS[1]: the hit log, a sorted set of allowed hit times (microseconds, server clock).
# ARGV: limit, window (microseconds), a member id unique to this hit.
# Returns: allowed (0/1), hits counted in the window, reset after, retry after (microseconds).
_HIT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  count = count + 1
  allowed = 1
end
local reset = 0
if count > 0 then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  reset = math.max(0, oldest + window - now)
end
local retry = 0
if allowed == 0 then
  local nth = tonumber(redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2])
  retry = math.max(1, nth + window - now)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1)
return {allowed, count, reset, retry}
"""

# KEYS[1]: the block record, a hash {until (microseconds, server clock), level}.
# ARGV: base, max, forget (microseconds). Returns the block's remaining microseconds.
_BLOCK: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local record = redis.call('HMGET', KEYS[1], 'until', 'level')
local until_at = tonumber(record[1])
local level = 0
if until_at then
  if until_at > now then
    return until_at - now
  end
  if now - until_at < tonumber(ARGV[3]) then
    level = math.min(tonumber(record[2]) + 1, 60)
  end
end
local duration = math.floor(math.min(tonumber(ARGV[1]) * 2 ^ level, tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'until', now + duration, 'level', level)
redis.call('PEXPIRE', KEYS[1], math.ceil((duration + tonumber(ARGV[3])) / 1000) + 1)
return duration
"""

# KEYS[1]: the block record. Returns the remaining microseconds, 0 when not blocked.
_BLOCKED_FOR: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_at = tonumber(redis.call('HGET', KEYS[1], 'until'))
if until_at and until_at > now then
  return until_at - now
end
return 0
"""


class RedisRateLimiter:
    """The RateLimiter port over Redis: atomic per decision, shared by every instance."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        on_error: FailurePolicy = FailurePolicy.CLOSED,
        retry_after_on_error: float = 5.0,
        pause_after_error: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not prefix:
            raise ValueError("a key prefix is required (one per deployment or test run)")
        self._client = client
        self._prefix = prefix
        self.on_error = on_error
        self._retry_after_on_error = retry_after_on_error
        self._pause_after_error = pause_after_error
        self._monotonic = monotonic
        self._gate = ScriptGate(
            log,
            "rate limiter",
            f"failing {on_error.value}",
            pause_after_error=pause_after_error,
            monotonic=monotonic,
        )
        self._hit = client.register_script(_HIT)
        self._block = client.register_script(_BLOCK)
        self._blocked_for = client.register_script(_BLOCKED_FOR)

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str,
        *,
        on_error: FailurePolicy = FailurePolicy.CLOSED,
        timeout: float = 0.25,
    ) -> RedisRateLimiter:
        """A limiter with its own client, built for a request path: short timeouts and no
        retries (redis-py's default retries add seconds to every request while Redis is down)."""
        return cls(request_path_client(url, timeout=timeout), prefix, on_error=on_error)

    def with_policy(self, on_error: FailurePolicy) -> RedisRateLimiter:
        """The same store and prefix under another failure policy (one per use, see the port)."""
        return RedisRateLimiter(
            self._client,
            self._prefix,
            on_error=on_error,
            retry_after_on_error=self._retry_after_on_error,
            pause_after_error=self._pause_after_error,
            monotonic=self._monotonic,
        )

    @property
    def prefix(self) -> str:
        """Every key this limiter writes starts with `<prefix>:`."""
        return self._prefix

    @property
    def available(self) -> bool:
        """False since the last failed call, until one succeeds again (for health checks)."""
        return self._gate.up

    def ping(self) -> bool:
        """Does Redis answer now? (for /readyz; within the client's timeout)"""
        try:
            return bool(self._client.ping())
        except UNAVAILABLE:
            return False

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit if fewer than `limit` were allowed in the last `window_seconds`."""
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be positive")
        window = max(1, round(window_seconds * _MICROS))
        reply = self._call(self._hit, f"{self._prefix}:hits:{key}", limit, window, uuid.uuid4().hex)
        if reply is None:
            allowed = self.on_error is FailurePolicy.OPEN
            wait = 0.0 if allowed else self._retry_after_on_error
            return RateDecision(
                allowed=allowed,
                limit=limit,
                remaining=limit if allowed else 0,
                reset_after=wait,
                retry_after=wait,
                degraded=True,
            )
        allowed_flag, count, reset, retry = (int(value) for value in reply)
        return RateDecision(
            allowed=bool(allowed_flag),
            limit=limit,
            remaining=max(0, limit - count),
            reset_after=reset / _MICROS,
            retry_after=retry / _MICROS,
        )

    def block(
        self, key: str, base_seconds: float, max_seconds: float, forget_seconds: float = 3600.0
    ) -> float:
        """Block `key`, doubling after each block that ended within `forget_seconds`."""
        if base_seconds <= 0 or max_seconds <= 0 or forget_seconds < 0:
            raise ValueError("block durations must be positive")
        reply = self._call(
            self._block,
            f"{self._prefix}:block:{key}",
            round(base_seconds * _MICROS),
            round(max_seconds * _MICROS),
            round(forget_seconds * _MICROS),
        )
        if reply is None:
            return self._retry_after_on_error if self.on_error is FailurePolicy.CLOSED else 0.0
        return int(reply) / _MICROS

    def blocked_for(self, key: str) -> float:
        """Seconds `key` stays blocked, 0 when it is not."""
        reply = self._call(self._blocked_for, f"{self._prefix}:block:{key}")
        if reply is None:
            return self._retry_after_on_error if self.on_error is FailurePolicy.CLOSED else 0.0
        return int(reply) / _MICROS

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def _call(self, script: Callable[..., Any], key: str, *args: str | int) -> Any:  # noqa: ANN401 - a Redis reply
        """Run one script; None when Redis is unavailable (the caller applies the policy)."""
        return self._gate.call(script, [key], list(args))
