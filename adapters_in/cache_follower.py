"""The product cache's follower loop: every instance that serves reads follows the change feed.

`serve` runs it beside the HTTP server whenever PARTNER_INGEST_PRODUCT_CACHE is on
(`background.background_services`); an embedder hands `background_cache_follower(app)`
to `create_app(app, services=...)`. It steps `ProductReadCache.follow` every quarter
of the lag (ADR 0017). A failed step (store or Redis unreachable) is logged once per
outage; the cache is not read until a step succeeds again, so an outage makes reads go
to the store, never serve old products.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from partner_ingest.domain.use_cases.product_cache import ProductReadCache

__all__ = ["BackgroundCacheFollower", "CacheFollower"]

log: Final = logging.getLogger("partner_ingest.product_cache")


class CacheFollower:
    """The polling loop around `ProductReadCache.follow`."""

    def __init__(self, cache: ProductReadCache) -> None:
        self._cache = cache
        self.steps = 0
        self._failing = False

    def run_once(self) -> bool:
        """One step; whether it succeeded (a failure is logged, once per outage)."""
        try:
            self._cache.follow()
        except Exception as error:
            if not self._failing:
                log.warning(
                    "product cache: cannot follow the change feed (%s); reading the store",
                    type(error).__name__,
                )
            self._failing = True
            return False
        self.steps += 1
        if self._failing:
            log.warning("product cache: following the change feed again")
            self._failing = False
        return True

    def run(self, stop: threading.Event) -> None:
        """Step after step until `stop` is set."""
        while not stop.is_set():
            self.run_once()
            stop.wait(self._cache.poll_seconds)


class BackgroundCacheFollower:
    """A `CacheFollower` in a daemon thread, started and stopped with an HTTP app."""

    name = "product-cache-follower"

    def __init__(self, follower: CacheFollower) -> None:
        self._follower = follower
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the first step here, so the cache serves from the first request on; then
        follow in the background."""
        self._follower.run_once()
        self._thread = threading.Thread(
            target=self._follower.run, args=(self._stop,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current step, take no other."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
