"""A near cache in front of a shared one: this process's LRU first, then Redis (ADR 0017).

A hot product is read from memory (no round trip); a product this process does not
hold is looked up in the shared cache, so one instance's fill saves the others a
store read. Every invalidation and reset goes to both, so each tier keeps the
port's promise on its own: the near tier refuses fills whose token predates this
process's invalidation of the product, the far tier any instance's.

A product found in the far tier is copied into the near one under the near token
taken *before* the far lookup, and invalidations and resets reach the far tier
*first*: so a copy either holds a token older than the near invalidation (refused)
or was looked up in the far tier after the far invalidation (which no longer holds
the old product). The other order would let a reader take a fresh near token, find
the old product still in Redis, and keep it near after both invalidations.
"""

from __future__ import annotations

from collections.abc import Sequence

from partner_ingest.domain.model.product import Product
from partner_ingest.ports.product_cache import CacheMiss, ProductCache, ProductKey

from .memory import InProcessProductCache

__all__ = ["TieredProductCache"]

_SEPARATOR = "#"


class TieredProductCache:
    """The ProductCache port over a near in-process LRU and a far shared cache."""

    def __init__(self, near: InProcessProductCache, far: ProductCache) -> None:
        self._near = near
        self._far = far

    @property
    def evictions(self) -> int:
        """The near tier's (the far one bounds itself)."""
        return self._near.evictions + self._far.evictions

    def lookup(self, partner_id: str, sku: str) -> Product | CacheMiss:
        """The near entry, else the far one (copied near), else a miss holding both tokens."""
        near = self._near.lookup(partner_id, sku)
        if isinstance(near, Product):
            return near
        far = self._far.lookup(partner_id, sku)
        if isinstance(far, Product):
            if near.token is not None:
                self._near.put(far, near.token)
            return far
        if near.token is None:
            return CacheMiss(None)
        return CacheMiss(f"{near.token}{_SEPARATOR}{far.token or ''}")

    def put(self, product: Product, token: str) -> bool:
        """Fill both tiers, each under its own token (the far one only when it handed one out)."""
        near, _, far = token.partition(_SEPARATOR)
        stored = self._near.put(product, near)
        if far:
            self._far.put(product, far)
        return stored

    def invalidate(self, keys: Sequence[ProductKey]) -> None:
        """The far tier, then the near one (whatever the far one raised, which is raised again)."""
        try:
            self._far.invalidate(keys)
        finally:
            self._near.invalidate(keys)

    def reset(self) -> None:
        """The far tier, then the near one (see `invalidate`)."""
        try:
            self._far.reset()
        finally:
            self._near.reset()
