"""The in-process product cache: a bounded LRU of products by (partner, SKU) (ADR 0017).

Every invalidation takes the next number of a counter; a miss's token is the
counter's value when it was handed out, and `put` refuses a token older than the
last invalidation of its product (or the last reset). Those last numbers are kept
for the most recently invalidated products only (`max_tombstones`); one forgotten
raises a floor that every token must clear, so forgetting makes the cache refuse
more fills, never accept a stale one. Thread-safe (one lock, held for dict work only).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from partner_ingest.domain.model.product import Product
from partner_ingest.ports.product_cache import CacheMiss, ProductKey

__all__ = ["InProcessProductCache"]


class InProcessProductCache:
    """The ProductCache port in this process, holding at most `capacity` products."""

    def __init__(self, capacity: int = 10_000, *, max_tombstones: int = 10_000) -> None:
        if capacity < 1 or max_tombstones < 1:
            raise ValueError("capacity and max_tombstones must be positive")
        self._capacity = capacity
        self._max_tombstones = max_tombstones
        self._lock = threading.Lock()
        self._entries: OrderedDict[ProductKey, Product] = OrderedDict()
        self._invalidated: OrderedDict[ProductKey, int] = OrderedDict()
        self._counter = 0
        self._floor = 0
        """Tokens below it are refused: the last reset, or the newest tombstone forgotten."""
        self._evictions = 0

    @property
    def evictions(self) -> int:
        """Least recently used entries dropped to stay within `capacity`."""
        return self._evictions

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, partner_id: str, sku: str) -> Product | CacheMiss:
        """The entry (now the most recently used), else a miss holding the counter's value."""
        key = (partner_id, sku)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return CacheMiss(str(self._counter))
            self._entries.move_to_end(key)
            return found

    def put(self, product: Product, token: str) -> bool:
        """Store unless the product was invalidated (or the cache reset) since `token`."""
        key = (product.partner_id, product.sku)
        issued = int(token)
        with self._lock:
            if issued < self._floor or issued < self._invalidated.get(key, 0):
                return False
            self._entries[key] = product
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
                self._evictions += 1
            return True

    def invalidate(self, keys: Sequence[ProductKey]) -> None:
        """Drop the entries; tokens handed out before now cannot fill them again."""
        with self._lock:
            self._counter += 1
            for key in keys:
                self._entries.pop(key, None)
                self._invalidated[key] = self._counter
                self._invalidated.move_to_end(key)
            while len(self._invalidated) > self._max_tombstones:
                _, number = self._invalidated.popitem(last=False)
                self._floor = max(self._floor, number)

    def reset(self) -> None:
        """Drop everything; no token handed out before now can fill anything."""
        with self._lock:
            self._counter += 1
            self._floor = self._counter
            self._entries.clear()
            self._invalidated.clear()
