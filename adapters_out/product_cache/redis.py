"""The Redis product cache: one cache shared by every instance (ADR 0017).

Keys, all under the deployment's prefix (`<prefix>:product-cache:`):

- `epoch`: a counter bumped by `reset`; entries are written under the epoch they
  were filled in, so a reset retires every older entry at once (they expire by their TTL);
- `gen:<id>`: a counter per product, bumped by every invalidation of it;
- `entry:<epoch>:<id>`: the product as JSON (its storage row), with a TTL.

`<id>` is the partner id's length, the partner id and the SKU (`4:acme:SKU-1`), so no
(partner, SKU) pair can name another's key whatever characters either holds.

A miss's token is the (epoch, generation) it saw, read in the same script as the
entry; `put` is one script that writes only while both are unchanged, so a reader
that loaded a product before a change cannot put it back after any instance applied
the change's invalidation. A generation counter expires (GEN_TTL) an hour after its
last invalidation; a token older than MAX_FILL_SECONDS is refused, so an expired
counter can never make an old token look current again.

When Redis cannot be reached, `lookup` answers a miss that cannot be filled and
`put` does nothing (reads go to the store), `invalidate` and `reset` raise
CacheUnavailable; the outage is logged once, and for `pause_after_error` seconds no
call is even tried: the gate of adapters_out/redis_calls.py, the rate limiter's too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import redis

from partner_ingest.adapters_out.redis_calls import ScriptGate, request_path_client
from partner_ingest.domain.model.product import Product
from partner_ingest.ports.product_cache import CacheMiss, CacheUnavailable, ProductKey

__all__ = ["ENTRY_TTL_SECONDS", "GEN_TTL_SECONDS", "MAX_FILL_SECONDS", "RedisProductCache"]

log = logging.getLogger(__name__)

ENTRY_TTL_SECONDS: Final = 600
"""An entry no reader touched for this long leaves on its own (Redis's memory bound, with maxmemory)."""
GEN_TTL_SECONDS: Final = 3600
MAX_FILL_SECONDS: Final = 60.0
"""A fill whose miss is older than this is dropped (far below GEN_TTL_SECONDS)."""

# KEYS[1] epoch, KEYS[2] the product's generation. ARGV[1] the entry key's stem, ARGV[2] the id.
# Returns {1, entry} on a hit (its TTL renewed), else {0, "<epoch>:<generation>"}.
_LOOKUP: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. epoch .. ':' .. ARGV[2]
local value = redis.call('GET', key)
if value then
  redis.call('PEXPIRE', key, ARGV[3])
  return {1, value}
end
return {0, epoch .. ':' .. (redis.call('GET', KEYS[2]) or '0')}
"""

# KEYS as _LOOKUP. ARGV[1] stem, ARGV[2] id, ARGV[3] the token, ARGV[4] the entry, ARGV[5] TTL (ms).
_PUT: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
if epoch .. ':' .. (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then
  return 0
end
redis.call('SET', ARGV[1] .. epoch .. ':' .. ARGV[2], ARGV[4], 'PX', ARGV[5])
return 1
"""

# KEYS[1] epoch, KEYS[2..] the generations. ARGV[1] stem, ARGV[2] generation TTL (ms), ARGV[3..] ids.
_INVALIDATE: Final = """
local epoch = redis.call('GET', KEYS[1]) or '0'
for i = 2, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  redis.call('DEL', ARGV[1] .. epoch .. ':' .. ARGV[i + 1])
end
return #KEYS - 1
"""


class RedisProductCache:
    """The ProductCache port over Redis: shared by every instance, fills checked atomically."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        pause_after_error: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not prefix:
            raise ValueError("a key prefix is required (one per deployment or test run)")
        self._client = client
        self._base = f"{prefix}:product-cache:"
        self._monotonic = monotonic
        self._gate = ScriptGate(
            log,
            "product cache",
            "reading the store",
            pause_after_error=pause_after_error,
            monotonic=monotonic,
        )
        self._lookup = client.register_script(_LOOKUP)
        self._put = client.register_script(_PUT)
        self._invalidate = client.register_script(_INVALIDATE)

    @classmethod
    def from_url(cls, url: str, prefix: str, *, timeout: float = 0.25) -> RedisProductCache:
        """A cache with its own client, built for a request path: short timeouts, no retries."""
        return cls(request_path_client(url, timeout=timeout), prefix)

    @property
    def evictions(self) -> int:
        """Always 0: Redis drops entries by TTL and maxmemory, unseen by any one instance."""
        return 0

    @property
    def available(self) -> bool:
        """False since the last failed call, until one succeeds again."""
        return self._gate.up

    def lookup(self, partner_id: str, sku: str) -> Product | CacheMiss:
        """The shared entry, else a miss holding the (epoch, generation) seen and the time."""
        ident = _ident(partner_id, sku)
        reply = self._call(
            self._lookup,
            [self._epoch_key, self._gen_key(ident)],
            [self._entry_stem, ident, ENTRY_TTL_SECONDS * 1000],
        )
        if reply is None:
            return CacheMiss(None)
        found, value = reply
        if int(found):
            row = json.loads(value)
            return Product.from_row(tuple(row))
        return CacheMiss(f"{self._monotonic()!r}|{value.decode()}")

    def put(self, product: Product, token: str) -> bool:
        """Store while the epoch and the product's generation are still those of `token`."""
        issued, _, seen = token.partition("|")
        if self._monotonic() - float(issued) > MAX_FILL_SECONDS:
            return False
        ident = _ident(product.partner_id, product.sku)
        reply = self._call(
            self._put,
            [self._epoch_key, self._gen_key(ident)],
            [self._entry_stem, ident, seen, json.dumps(product.to_row()), ENTRY_TTL_SECONDS * 1000],
        )
        return bool(reply)

    def invalidate(self, keys: Sequence[ProductKey]) -> None:
        """Bump each product's generation and drop its entry, in one script per call."""
        if not keys:
            return
        idents = [_ident(partner_id, sku) for partner_id, sku in keys]
        reply = self._call(
            self._invalidate,
            [self._epoch_key, *(self._gen_key(ident) for ident in idents)],
            [self._entry_stem, GEN_TTL_SECONDS * 1000, *idents],
        )
        if reply is None:
            raise CacheUnavailable("Redis is unavailable: the products were not invalidated")

    def reset(self) -> None:
        """Bump the epoch: every entry filled before is never read again."""
        if self._call(lambda keys, args: self._client.incr(keys[0]), [self._epoch_key], []) is None:
            raise CacheUnavailable("Redis is unavailable: the cache was not reset")

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    @property
    def _epoch_key(self) -> str:
        return f"{self._base}epoch"

    @property
    def _entry_stem(self) -> str:
        return f"{self._base}entry:"

    def _gen_key(self, ident: str) -> str:
        return f"{self._base}gen:{ident}"

    def _call(self, script: Callable[..., Any], keys: list[str], args: list[str | int]) -> Any:  # noqa: ANN401 - a Redis reply
        """Run one script; None when Redis is unavailable."""
        return self._gate.call(script, keys, args)


def _ident(partner_id: str, sku: str) -> str:
    """An unambiguous key part for (partner, SKU): the partner id is length-prefixed."""
    return f"{len(partner_id)}:{partner_id}:{sku}"
