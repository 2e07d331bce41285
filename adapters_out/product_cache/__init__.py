"""Product caches behind the ProductCache port (ADR 0017): a bounded in-process LRU, Redis
shared by every instance (`partner_ingest.adapters_out.product_cache.redis`, the `redis` extra),
and the LRU in front of Redis (`TieredProductCache`), which is what a deployment with Redis runs."""

from .memory import InProcessProductCache
from .tiered import TieredProductCache

__all__ = ["InProcessProductCache", "TieredProductCache"]
