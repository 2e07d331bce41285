"""Rate limiters behind the RateLimiter port: in-process sliding window, and Redis
(`partner_ingest.adapters_out.rate_limit.redis`, the optional `redis` extra)."""

from .memory import InProcessRateLimiter

__all__ = ["InProcessRateLimiter"]
