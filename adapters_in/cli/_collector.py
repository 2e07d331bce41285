"""The cyclic garbage collector's pace in a command's own process (ADR 0045, ADR 0039).

`serve` and `ingest` allocate many short-lived objects that die young and hold no cycles: a
small feed's request a few thousand, a large feed's rows tens of thousands a chunk. At Python's
default (a young-generation collection every 700 allocations, an older one every tenth of
those) the collector visits them again and again before they go. The setting belongs to the
command's process, not to the library: an embedder's process keeps its own, and the command
restores the previous setting when it ends (the suite runs commands in its own process).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

GC_YOUNG_THRESHOLD: Final = 10_000
"""Allocations between young-generation collections while a command runs (Python's default: 700)."""


@contextmanager
def fewer_young_collections() -> Iterator[None]:
    """Young-generation collections every `GC_YOUNG_THRESHOLD` allocations until the block ends;
    the older generations' thresholds and the previous setting kept."""
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
