"""`ValidatedChunk`: a stretch of a feed, parsed and validated, as the pipeline's halves hand it over.

The pipeline has a front half (parse, validate: pure computation, the larger
cost) and a back half (repeats, writes, counting: bound to the unit of work).
A chunk is what crosses between them, in process or from a parser process
(ADR 0019), so it holds only plain, picklable values.
"""

from __future__ import annotations

import attrs

from .diagnostics import ItemSnapshot
from .product import ProductRow
from .report import FeedError, ItemError

__all__ = ["ValidatedChunk"]


@attrs.frozen
class ValidatedChunk:
    """Up to a batch of valid rows, and the invalid items met among them, in feed order."""

    rows: list[ProductRow]
    indexes: list[int]
    """Feed position of each row."""
    markers: list[object]
    """The format's marker of each row (`FeedFormat.locate` reads it for a repeat)."""
    rejected: list[tuple[list[ItemError], object]]
    """Every error and the marker of each invalid item."""
    received: int
    """Items read from the feed so far, this chunk's included."""
    feed_error: FeedError | None = None
    """Why the feed could not be read past this chunk; its rows are then not written."""
    last: bool = False
    """No chunk follows."""
    snapshots: list[ItemSnapshot] = attrs.field(factory=list)
    """The bounded raw item and offending values of each invalid item, as `rejected` orders them."""
    deletes: list[tuple[int, str, object]] = attrs.Factory(list)
    """Items asking for their SKU to be retired (`_delete`): feed position, SKU, marker."""
    patches: list[tuple[int, dict[str, object], object]] = attrs.Factory(list)
    """A patch feed's items, checked only for their SKU: the back half merges each into the
    stored product and validates the result (feed position, raw item, marker)."""
