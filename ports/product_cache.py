"""The product cache port: hot product reads kept between requests (ADR 0017).

Two adapters implement it: a bounded in-process LRU, and Redis shared by every
instance (adapters_out/product_cache/). Both pass
tests/integration/test_product_cache_contract.py.

The cache is only ever read through (domain/use_cases/product_cache.py): a miss
hands out a *token*, the reader loads the product from the store, and `put` stores
it only if no invalidation of that product was applied since the token was handed
out. This closes the classic race of a read-through cache: a reader that loaded a
product just before a change committed must not put the old version back after the
change's invalidation has been applied (it would then be served until the next
change). Entries are keyed by (partner, SKU), so a partner's read can never find
another partner's product.

A cache kept elsewhere (Redis) can be unreachable: `lookup` then answers a miss
that cannot be filled and `put` does nothing (reads go to the store), but
`invalidate` and `reset` raise CacheUnavailable, because an invalidation that was
not applied must not be taken for one that was (the follower then keeps its cursor
and resets the cache once it is reachable again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from partner_ingest.domain.model.product import Product

__all__ = ["CacheMiss", "CacheUnavailable", "ProductCache", "ProductKey"]

ProductKey = tuple[str, str]
"""(partner id, SKU)."""


class CacheUnavailable(Exception):
    """The cache's store could not be reached: the invalidation or reset was not applied."""


@attrs.frozen
class CacheMiss:
    """No entry for the product; `token` lets the reader fill it (None: it must not)."""

    token: str | None


class ProductCache(Protocol):
    """Products by (partner, SKU), filled by readers and emptied by the change feed's follower."""

    def lookup(self, partner_id: str, sku: str) -> Product | CacheMiss:
        """The cached product, else a miss with the token `put` needs (never raises for an
        unreachable store: a miss with no token)."""

    def put(self, product: Product, token: str) -> bool:
        """Cache `product` (under its own partner and SKU) unless the product was invalidated, or
        the cache reset, after `token` was handed out; whether it was stored."""

    def invalidate(self, keys: Sequence[ProductKey]) -> None:
        """Drop these products and refuse every put holding a token handed out before now;
        CacheUnavailable when that could not be done."""

    def reset(self) -> None:
        """Drop every entry and refuse every put holding an older token; CacheUnavailable when
        that could not be done."""

    @property
    def evictions(self) -> int:
        """Entries dropped to keep the cache within its bounds, since start (by this process)."""
