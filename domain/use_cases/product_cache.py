"""Use case: hot product reads through a cache the change feed keeps current (ADR 0017).

`ProductReadCache.read` serves one partner's active product from the cache, else
loads it from the store and fills the cache; `follow` is one step of the
follower every serving instance runs (adapters_in/cache_follower.py): it reads the
change feed (ADR 0037) after its cursor, to its end, and invalidates every product
named there.

The staleness bound, precisely: a cached product is served only while the last
follow step that reached the end of the feed *started* at most `lag_seconds` ago
(by this instance's monotonic clock). That step saw every change committed before
it started, and applied each one's invalidation before the step ended, so a product
served at time t reflects every change committed before t - lag_seconds. A step that
fails (store or cache unreachable) stops cache reads at once; they resume after the
next step that succeeds, which starts afresh from the feed's end with an emptied
cache, since invalidations may have been missed. Otherwise reads bypass the cache
and go to the store, so a follower that stopped never makes anyone read old data.

Fills cannot undo an invalidation: a miss hands out a token and the cache refuses
a fill whose token predates an invalidation of that product (see the port).

Only what is a pure function of the stored product is cached: the active product
by (partner, SKU). Retired reads and pages go to the store; the effective price at
an instant (`?at=`) is computed from the cached product at each read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs

from partner_ingest.domain.model.product import Product
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.product_cache import CacheMiss, ProductCache
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["CacheStats", "ProductReadCache"]


@attrs.frozen
class CacheStats:
    """What /metrics shows of one instance's cache, counted since start."""

    hits: int
    misses: int
    bypassed: int
    """Reads that went to the store because the follower was not current."""
    evictions: int
    """Entries dropped to stay within the cache's bounds."""
    invalidated: int
    """Changes whose product the follower invalidated."""
    follower_age: float | None
    """Seconds since the last successful follow step started; None before the first one."""
    serving: bool
    """Is the cache read now (the follower current within the lag)?"""


class ProductReadCache:
    """The read-through cache of active products and the change-feed follower that keeps it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: ProductCache,
        clock: Clock,
        *,
        lag_seconds: float = 1.0,
        page_size: int = 1000,
    ) -> None:
        if lag_seconds <= 0 or page_size < 1:
            raise ValueError("lag_seconds and page_size must be positive")
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self.lag_seconds = lag_seconds
        self._page = page_size
        self._lock = threading.Lock()
        self._stepping = threading.Lock()
        """One follow step at a time, whoever calls (the cursor is the follower's alone)."""
        self._cursor: str | None = None
        self._anchored = False
        self._caught_up_at: float | None = None
        self._counts = dict.fromkeys(("hits", "misses", "bypassed", "invalidated"), 0)

    @property
    def poll_seconds(self) -> float:
        """How often the follower should step: a quarter of the lag, so that one slow or
        lost step does not yet stop cache reads."""
        return self.lag_seconds / 4

    def serving(self) -> bool:
        """Is the follower current within the lag (so the cache may be read)?"""
        caught_up = self._caught_up_at
        return caught_up is not None and self._clock.monotonic() - caught_up <= self.lag_seconds

    def read(self, partner_id: str, sku: str, load: Callable[[], Product | None]) -> Product | None:
        """The partner's active product `sku`: from the cache while it is served, else `load()`
        (the store's answer, put in the cache when there is one)."""
        if not self.serving():
            self._count("bypassed")
            return load()
        found = self._cache.lookup(partner_id, sku)
        if not isinstance(found, CacheMiss):
            if found.partner_id == partner_id and found.sku == sku:
                self._count("hits")
                return found
            found = CacheMiss(None)  # never another partner's product, whatever a cache holds
        self._count("misses")
        product = load()
        if product is not None and found.token is not None:
            self._cache.put(product, found.token)
        return product

    def follow(self) -> int:
        """One follow step: invalidate the products of every change after the cursor, to the
        feed's end; how many changes. On the first step, and the first after a failed one,
        start from the feed's end with an emptied cache. Raises what the store or the cache
        raised (and stops cache reads until a step succeeds)."""
        with self._stepping:
            return self._step()

    def _step(self) -> int:
        started = self._clock.monotonic()
        try:
            if not self._anchored:
                with self._uow(read_only=True) as uow:
                    cursor = uow.changes.end()
                self._cache.reset()
                self._cursor, self._anchored = cursor, True
            applied = 0
            while True:
                with self._uow(read_only=True) as uow:
                    page = uow.changes.after(self._cursor, limit=self._page)
                if page:
                    self._cache.invalidate(sorted({(c.partner_id, c.sku) for c in page}))
                    self._cursor = page[-1].cursor
                    applied += len(page)
                if len(page) < self._page:
                    break
        except BaseException:
            self._anchored = False
            self._caught_up_at = None
            raise
        self._caught_up_at = started
        self._count("invalidated", applied)
        return applied

    def stats(self) -> CacheStats:
        """The counters and the follower's state now."""
        caught_up = self._caught_up_at
        with self._lock:
            counts = dict(self._counts)
        return CacheStats(
            hits=counts["hits"],
            misses=counts["misses"],
            bypassed=counts["bypassed"],
            evictions=self._cache.evictions,
            invalidated=counts["invalidated"],
            follower_age=None if caught_up is None else self._clock.monotonic() - caught_up,
            serving=self.serving(),
        )

    def _count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by
