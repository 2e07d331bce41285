"""SKUs repeated within one feed: the rule every feed SKU register applies to its set."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["record_repeats"]


def record_repeats(seen: set[str], skus: Sequence[str]) -> list[int]:
    """Record `skus` in `seen`; positions of those seen before or earlier in `skus`."""
    if seen.isdisjoint(skus):
        before = len(seen)
        seen.update(skus)
        if len(seen) == before + len(skus):
            return []  # the common batch, all new: three calls into C
        seen.difference_update(skus)  # a repeat within the batch: look one by one
    out = []
    for position, sku in enumerate(skus):
        if sku in seen:
            out.append(position)
        else:
            seen.add(sku)
    return out
