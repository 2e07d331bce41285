"""What the Redis adapters share (rate_limit/redis.py, product_cache/redis.py): a client built
for a request path, the errors that mean Redis is unavailable, and a gate that runs their Lua
scripts and, after one failed, stops trying for a pause (a down Redis costs one timeout a
pause, not one a request)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MasterDownError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

__all__ = ["UNAVAILABLE", "ScriptGate", "request_path_client"]

UNAVAILABLE: Final = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    OutOfMemoryError,
    MasterDownError,
)
"""What a call raises when Redis cannot serve it (down, unreachable, read-only, full); any
other error is a bug and is raised."""


def request_path_client(url: str, *, timeout: float) -> redis.Redis:
    """A client for a request path: short timeouts and no retries (redis-py's default retries
    add seconds to every request while Redis is down)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


class ScriptGate:
    """Runs one adapter's scripts: None, not an error, when Redis is unavailable, and no call at
    all for `pause_after_error` seconds after a failure. Logs each outage once, at its start and
    its end, on the adapter's `log`, naming `what` uses Redis and what it does meanwhile (`fallback`)."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        fallback: str,
        *,
        pause_after_error: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._fallback = fallback
        self._pause_after_error = pause_after_error
        self._monotonic = monotonic
        self._down_until = 0.0
        self._down = False

    @property
    def up(self) -> bool:
        """False since the last failed call, until one succeeds again."""
        return not self._down

    def call(self, script: Callable[..., Any], keys: list[str], args: list[str | int]) -> Any:  # noqa: ANN401 - a Redis reply
        """Run one script; None when Redis is unavailable."""
        if self._down and self._monotonic() < self._down_until:
            return None
        try:
            reply = script(keys=keys, args=args)
        except UNAVAILABLE as error:
            self._down_until = self._monotonic() + self._pause_after_error
            if not self._down:
                self._log.warning("%s: Redis unavailable (%s); %s", self._what, error, self._fallback)
            self._down = True
            return None
        if self._down:
            self._log.warning("%s: Redis reachable again", self._what)
            self._down = False
        return reply
