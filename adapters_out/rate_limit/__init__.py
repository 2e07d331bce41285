"""Rate limiters behind the RateLimiter port: in-process sliding window and Redis."""
