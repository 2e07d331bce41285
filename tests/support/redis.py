"""Reaching the test Redis server: skipped, visibly, where none is configured.

Every prefix handed out here is the test's own (`pci-e2e-<random>`), and every
key under it is deleted when the test is done, so test runs sharing one Redis
never count each other's hits.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["ENV", "redis_prefix", "redis_url"]

ENV = "PARTNER_INGEST_TEST_REDIS_URL"


def redis_url() -> str:
    """The configured server URL, or a skip with the reason."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"Redis tests need {ENV} (CI sets it to redis://127.0.0.1:6379/0)")
    return url


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    import redis

    prefix = f"pci-e2e-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
