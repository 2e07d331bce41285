"""Product caches behind the ProductCache port (ADR 0017): a bounded in-process LRU, and Redis
shared by every instance (`partner_ingest.adapters_out.product_cache.redis`, the `redis` extra)."""

from .memory import InProcessProductCache

__all__ = ["InProcessProductCache"]
