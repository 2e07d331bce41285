"""Prometheus series of the product cache (ADR 0017), read from this instance at scrape time.

- `partner_ingest_product_cache_hits_total`, `_misses_total`: reads answered from the
  cache, and reads that looked in it and went to the store (filling it);
- `partner_ingest_product_cache_bypassed_total`: reads that went to the store without
  looking, because the change-feed follower was not current within the lag;
- `partner_ingest_product_cache_evictions_total`: entries dropped to stay within
  PARTNER_INGEST_PRODUCT_CACHE_SIZE (in process; Redis evicts on its own);
- `partner_ingest_product_cache_invalidations_total`: changes whose product the follower
  invalidated;
- `partner_ingest_product_cache_follower_age_seconds`: since the last follow step that
  caught up started (alert when it nears the lag), and `_serving` (1: the cache is read).

Counts are this instance's, since it started; nothing is shown while the cache is off.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from partner_ingest.adapters_in.bootstrap import Application

__all__ = ["ProductCacheCollector"]

_NAME = "partner_ingest_product_cache"


class ProductCacheCollector(Collector):
    """The cache's counters and its follower's state."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        """Read at scrape time from the instance's cache (no store read)."""
        cache = self._app.product_cache
        if cache is None:
            return
        stats = cache.stats()
        for name, value, text in (
            ("hits", stats.hits, "Product reads answered from the cache."),
            (
                "misses",
                stats.misses,
                "Product reads the cache did not hold (read from the store, then cached).",
            ),
            (
                "bypassed",
                stats.bypassed,
                "Product reads sent to the store: the change-feed follower was behind.",
            ),
            ("evictions", stats.evictions, "Cached products dropped to stay within the cache's size."),
            (
                "invalidations",
                stats.invalidated,
                "Changes whose product the follower dropped from the cache.",
            ),
        ):
            counter = CounterMetricFamily(f"{_NAME}_{name}", text)
            counter.add_metric([], value)
            yield counter
        age = GaugeMetricFamily(
            f"{_NAME}_follower_age_seconds",
            "Seconds since the change-feed follower's last step that caught up started (-1: none yet).",
        )
        age.add_metric([], -1.0 if stats.follower_age is None else stats.follower_age)
        yield age
        serving = GaugeMetricFamily(
            f"{_NAME}_serving", "1 while the cache is read (follower within the lag)."
        )
        serving.add_metric([], 1 if stats.serving else 0)
        yield serving
