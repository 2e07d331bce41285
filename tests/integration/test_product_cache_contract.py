"""The ProductCache contract (ADR 0017), written once and run over both caches: in process and Redis.

Redis tests need PARTNER_INGEST_TEST_REDIS_URL (CI: redis://127.0.0.1:6379/0); each
writes under its own prefix, deleted afterwards. Below the shared contract: what only
one cache promises (the in-process bound; Redis shared by two instances, and its outage).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from support.redis import redis_prefix

from partner_ingest.adapters_out.product_cache import InProcessProductCache, TieredProductCache
from partner_ingest.domain.model.product import Dimensions, Product
from partner_ingest.ports.product_cache import CacheMiss, CacheUnavailable, ProductCache, ProductKey

if TYPE_CHECKING:  # redis-py is an extra: without it only the Redis tests are skipped
    from partner_ingest.adapters_out.product_cache.redis import RedisProductCache

REDIS_URL = os.environ.get("PARTNER_INGEST_TEST_REDIS_URL")
NEEDS_REDIS = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to test the Redis product cache"
    ),
]


def product(partner: str = "acme", sku: str = "SKU-1", **fields: Any) -> Product:
    values: dict[str, Any] = {"name": "Mug", "price": Decimal("9.50"), "currency": "EUR", "quantity": 3}
    values.update(fields)
    return Product(partner_id=partner, sku=sku, **values)


def fill(cache: ProductCache, item: Product) -> bool:
    """A reader's miss and fill."""
    missed = cache.lookup(item.partner_id, item.sku)
    assert isinstance(missed, CacheMiss) and missed.token is not None
    return cache.put(item, missed.token)


def _redis_cache(prefix: str) -> RedisProductCache:
    from partner_ingest.adapters_out.product_cache.redis import RedisProductCache

    assert REDIS_URL is not None
    return RedisProductCache.from_url(REDIS_URL, prefix, timeout=2.0)


@pytest.fixture
def shared_prefix() -> Iterator[str]:
    assert REDIS_URL is not None
    with redis_prefix(REDIS_URL) as prefix:
        yield prefix


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("redis", marks=NEEDS_REDIS),
        pytest.param("memory+redis", marks=NEEDS_REDIS),
    ]
)
def cache(request: pytest.FixtureRequest) -> Iterator[ProductCache]:
    """The in-process LRU, Redis, and the LRU in front of Redis (what a deployment with Redis runs)."""
    if request.param == "memory":
        yield InProcessProductCache(100)
        return
    redis_cache = _redis_cache(request.getfixturevalue("shared_prefix"))
    yield (
        redis_cache
        if request.param == "redis"
        else TieredProductCache(InProcessProductCache(100), redis_cache)
    )
    redis_cache.close()


# --- the contract -----------------------------------------------------------------------------


def test_a_filled_product_is_found_as_it_was_put(cache: ProductCache) -> None:
    item = product(
        brand="Acme",
        gtin="4006381333931",
        dimensions=Dimensions(Decimal("1.5"), Decimal("2"), Decimal("3.25"), "cm"),
        sale_price=Decimal("7.00"),
        sale_starts_at=datetime(2026, 11, 27, tzinfo=UTC),
        sale_ends_at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
        extra={"colour": "red", "weight": Decimal("0.35"), "tags": ["a", "b"]},
    )
    assert fill(cache, item)
    assert cache.lookup("acme", "SKU-1") == item


def test_a_miss_is_a_miss_with_a_token(cache: ProductCache) -> None:
    found = cache.lookup("acme", "nothing")
    assert isinstance(found, CacheMiss) and found.token is not None


def test_a_partner_never_finds_another_partners_product(cache: ProductCache) -> None:
    assert fill(cache, product("acme", "SKU-1", name="Acme's"))
    assert isinstance(cache.lookup("globex", "SKU-1"), CacheMiss)
    # Partner ids and SKUs that would run together in a naive key stay apart.
    assert fill(cache, product("a", "b:c", name="first"))
    assert isinstance(cache.lookup("a:b", "c"), CacheMiss)
    assert fill(cache, product("a:b", "c", name="second"))
    first, second = cache.lookup("a", "b:c"), cache.lookup("a:b", "c")
    assert isinstance(first, Product) and first.name == "first"
    assert isinstance(second, Product) and second.name == "second"


def test_an_invalidated_product_is_gone(cache: ProductCache) -> None:
    assert fill(cache, product(sku="SKU-1"))
    assert fill(cache, product(sku="SKU-2"))
    cache.invalidate([("acme", "SKU-1")])
    assert isinstance(cache.lookup("acme", "SKU-1"), CacheMiss)
    assert isinstance(cache.lookup("acme", "SKU-2"), Product)


def test_a_fill_read_before_an_invalidation_cannot_put_the_old_product_back(cache: ProductCache) -> None:
    """The read-through race: read the store, the change commits and is invalidated, then the fill."""
    missed = cache.lookup("acme", "SKU-1")
    assert isinstance(missed, CacheMiss) and missed.token is not None
    cache.invalidate([("acme", "SKU-1")])
    assert not cache.put(product(name="old"), missed.token)
    assert isinstance(cache.lookup("acme", "SKU-1"), CacheMiss)
    # A reader that missed after the invalidation fills it.
    assert fill(cache, product(name="new"))
    found = cache.lookup("acme", "SKU-1")
    assert isinstance(found, Product) and found.name == "new"


def test_an_invalidation_of_another_product_does_not_refuse_a_fill(cache: ProductCache) -> None:
    missed = cache.lookup("acme", "SKU-1")
    assert isinstance(missed, CacheMiss) and missed.token is not None
    cache.invalidate([("acme", "SKU-2"), ("globex", "SKU-1")])
    assert cache.put(product(), missed.token)


def test_a_reset_drops_everything_and_refuses_older_fills(cache: ProductCache) -> None:
    assert fill(cache, product(sku="SKU-1"))
    missed = cache.lookup("acme", "SKU-2")
    assert isinstance(missed, CacheMiss) and missed.token is not None
    cache.reset()
    assert isinstance(cache.lookup("acme", "SKU-1"), CacheMiss)
    assert not cache.put(product(sku="SKU-2"), missed.token)
    assert fill(cache, product(sku="SKU-2"))


def test_invalidating_nothing_is_fine(cache: ProductCache) -> None:
    cache.invalidate([])
    assert cache.evictions == 0


# --- in process only ---------------------------------------------------------------------------


def test_the_in_process_cache_keeps_the_most_recently_used_within_its_size() -> None:
    cache = InProcessProductCache(2)
    assert fill(cache, product(sku="A")) and fill(cache, product(sku="B"))
    assert isinstance(cache.lookup("acme", "A"), Product)  # A is now the most recently used
    assert fill(cache, product(sku="C"))
    assert len(cache) == 2 and cache.evictions == 1
    assert isinstance(cache.lookup("acme", "B"), CacheMiss)
    assert isinstance(cache.lookup("acme", "A"), Product)


def test_forgotten_invalidations_make_the_cache_refuse_more_never_accept_stale() -> None:
    cache = InProcessProductCache(10, max_tombstones=2)
    missed = cache.lookup("acme", "SKU-1")
    assert isinstance(missed, CacheMiss) and missed.token is not None
    cache.invalidate([("acme", "SKU-1")])
    cache.invalidate([("acme", "X"), ("acme", "Y")])  # SKU-1's invalidation is forgotten
    assert not cache.put(product(), missed.token)
    assert fill(cache, product())


# --- Redis only -------------------------------------------------------------------------------


@pytest.mark.redis
@NEEDS_REDIS[1]
def test_two_instances_share_entries_and_invalidations(shared_prefix: str) -> None:
    one, two = _redis_cache(shared_prefix), _redis_cache(shared_prefix)
    try:
        assert fill(one, product(name="v1"))
        assert isinstance(two.lookup("acme", "SKU-1"), Product)
        # Instance two is mid-read of another SKU when instance one applies its invalidation.
        missed = two.lookup("acme", "SKU-2")
        assert isinstance(missed, CacheMiss) and missed.token is not None
        one.invalidate([("acme", "SKU-1"), ("acme", "SKU-2")])
        assert isinstance(two.lookup("acme", "SKU-1"), CacheMiss)
        assert not two.put(product(sku="SKU-2", name="old"), missed.token)
        # A reset by one instance (its follower restarting) retires every entry for both.
        assert fill(two, product(name="v2"))
        one.reset()
        assert isinstance(two.lookup("acme", "SKU-1"), CacheMiss)
    finally:
        one.close()
        two.close()


@pytest.mark.redis
@NEEDS_REDIS[1]
def test_the_redis_cache_expires_what_it_writes(shared_prefix: str) -> None:
    import redis

    cache = _redis_cache(shared_prefix)
    try:
        assert fill(cache, product())
        cache.invalidate([("acme", "SKU-2")])
        client = redis.Redis.from_url(str(REDIS_URL))
        keys = list(client.scan_iter(match=f"{shared_prefix}:product-cache:*"))
        ttls = {key.decode(): client.pttl(key) for key in keys}
        client.close()
        entries = {k: v for k, v in ttls.items() if ":entry:" in k}
        gens = {k: v for k, v in ttls.items() if ":gen:" in k}
        assert entries and gens, ttls
        assert all(0 < ttl <= 600_000 for ttl in entries.values()), ttls
        assert all(0 < ttl <= 3_600_000 for ttl in gens.values()), ttls
    finally:
        cache.close()


class Interleaved(InProcessProductCache):
    """A tier that lets a reader look up through the whole cache right after each invalidation."""

    reader: Any = None

    def invalidate(self, keys: Sequence[ProductKey]) -> None:
        super().invalidate(keys)
        if self.reader is not None:
            self.reader()

    def reset(self) -> None:
        super().reset()
        if self.reader is not None:
            self.reader()


@pytest.mark.parametrize("step", ["invalidate", "reset"])
def test_a_reader_between_the_tiers_invalidations_cannot_keep_the_old_product_near(step: str) -> None:
    """A reader that looks up while one tier is invalidated and the other is not yet must not
    leave the old product in the near tier once both are."""
    near, far = Interleaved(10), Interleaved(10)
    tiered = TieredProductCache(near, far)
    assert fill(tiered, product(name="old"))
    near.reader = far.reader = lambda: tiered.lookup("acme", "SKU-1")
    if step == "invalidate":
        tiered.invalidate([("acme", "SKU-1")])
    else:
        tiered.reset()
    near.reader = far.reader = None
    assert isinstance(tiered.lookup("acme", "SKU-1"), CacheMiss)


@pytest.mark.redis
@NEEDS_REDIS[1]
def test_the_near_tier_serves_what_one_instance_filled_to_another(shared_prefix: str) -> None:
    far_one, far_two = _redis_cache(shared_prefix), _redis_cache(shared_prefix)
    one = TieredProductCache(InProcessProductCache(10), far_one)
    near_two = InProcessProductCache(10)
    two = TieredProductCache(near_two, far_two)
    try:
        assert fill(one, product(name="v1"))
        found = two.lookup("acme", "SKU-1")  # from Redis, then copied near
        assert isinstance(found, Product) and found.name == "v1" and len(near_two) == 1
        # A copy whose near token predates this instance's invalidation is refused.
        missed = near_two.lookup("acme", "SKU-2")
        assert isinstance(missed, CacheMiss) and missed.token is not None
        two.invalidate([("acme", "SKU-2")])
        assert not near_two.put(product(sku="SKU-2"), missed.token)
    finally:
        far_one.close()
        far_two.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_redis_is_a_miss_for_readers_and_an_error_for_the_follower() -> None:
    pytest.importorskip("redis")
    from partner_ingest.adapters_out.product_cache.redis import RedisProductCache

    cache = RedisProductCache.from_url(f"redis://127.0.0.1:{_closed_port()}/0", "pci-down", timeout=0.2)
    try:
        assert cache.lookup("acme", "SKU-1") == CacheMiss(None)
        assert cache.put(product(), "0.0|0:0") is False
        with pytest.raises(CacheUnavailable):
            cache.invalidate([("acme", "SKU-1")])
        with pytest.raises(CacheUnavailable):
            cache.reset()
        assert not cache.available
        # In front of it, the near tier still fills and serves; an invalidation empties it, then raises.
        tiered = TieredProductCache(InProcessProductCache(10), cache)
        assert fill(tiered, product())
        assert isinstance(tiered.lookup("acme", "SKU-1"), Product)
        with pytest.raises(CacheUnavailable):
            tiered.invalidate([("acme", "SKU-1")])
        assert isinstance(tiered.lookup("acme", "SKU-1"), CacheMiss)
    finally:
        cache.close()
