"""`FeedReading`: the front half of a feed's pipeline (parse, validate, chunk) as one plain value.

The pipeline has two halves (domain/use_cases/pipeline.py). The front half only
computes, so it is a value of the model: the format's parser, the validator,
the limits and the batch size, with `chunks(stream)` to run it. Being plain
data, it pickles, and a `FeedParsing` (ports/parsing.py) may carry it to
another process and run it there (ADR 0019) without knowing the use cases;
the chunks are the same wherever it runs.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import BinaryIO, Protocol

import attrs

from .chunk import ValidatedChunk
from .diagnostics import ItemSnapshot, snapshot_of
from .errors import MalformedFeedError
from .feed_mode import DELETE_FIELD, delete_flag
from .policy import FeedLimits
from .product import ProductRow
from .report import ErrorCode, FeedError, ItemError
from .validation import ItemValidator

__all__ = ["FeedReading", "ItemParser"]


class ItemParser(Protocol):
    """What the front half needs of a feed format (`ports.formats.FeedFormat` is one)."""

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[tuple[object, object]]:
        """The feed's raw items and their markers, one at a time."""
        ...


@attrs.frozen
class FeedReading:
    """How to read one feed: parse with `parser`, validate with `validator`, within `limits`,
    handing over a chunk per `batch_size` valid rows or invalid items."""

    parser: ItemParser
    validator: ItemValidator
    limits: FeedLimits
    batch_size: int = 1000
    patch: bool = False
    """A patch feed: items are checked for their SKU only and handed over raw (the back half
    merges them into the stored products, which only it can read)."""

    def chunks(self, stream: BinaryIO) -> Generator[ValidatedChunk, None, None]:
        """Parse and validate `stream`, a chunk per `batch_size` valid rows or invalid items,
        whichever comes first; the last chunk says why reading stopped early, if it did.
        Never raises for bad input."""
        validate = self.validator.validate
        sku_of = self.validator.sku_of
        patch = self.patch
        batch_size = self.batch_size
        max_items = self.limits.max_items
        rows: list[ProductRow] = []
        indexes: list[int] = []
        markers: list[object] = []
        rejected: list[tuple[list[ItemError], object]] = []
        snapshots: list[ItemSnapshot] = []
        deletes: list[tuple[int, str, object]] = []
        patches: list[tuple[int, dict[str, object], object]] = []
        index = -1
        feed_error: FeedError | None = None
        try:
            for index, (raw, marker) in enumerate(self.parser.parse(stream, self.limits)):
                if index >= max_items:
                    raise MalformedFeedError(
                        ErrorCode.TOO_MANY_ITEMS, f"a feed may hold at most {max_items} items"
                    )
                deleting = False
                # One dict lookup per item: the upsert path keeps its fast validator.
                if raw.__class__ is dict and DELETE_FIELD in raw:
                    flag = delete_flag(raw[DELETE_FIELD])
                    if flag is None:
                        bad = [_bad_delete(raw, index)]
                        rejected.append((bad, marker))
                        snapshots.append(snapshot_of(raw, bad))
                        continue
                    raw = {key: value for key, value in raw.items() if key != DELETE_FIELD}
                    deleting = flag
                # Each kind of item says when the chunk is full: valid rows, invalid items,
                # deletes, or a patch feed's items and rejections, at `batch_size`.
                if deleting:
                    found = sku_of(raw, index)
                    if found.__class__ is str:
                        deletes.append((index, found, marker))
                    else:
                        rejected.append((found, marker))  # type: ignore[arg-type]
                        snapshots.append(snapshot_of(raw, found))  # type: ignore[arg-type]
                    full = len(deletes) >= batch_size
                elif patch:
                    found = sku_of(raw, index)
                    if found.__class__ is str:
                        patches.append((index, raw, marker))  # type: ignore[arg-type]
                    else:
                        rejected.append((found, marker))  # type: ignore[arg-type]
                        snapshots.append(snapshot_of(raw, found))  # type: ignore[arg-type]
                    full = len(patches) + len(rejected) >= batch_size
                else:
                    result = validate(raw, index)
                    if type(result) is tuple:
                        rows.append(result)
                        indexes.append(index)
                        markers.append(marker)
                        full = len(rows) >= batch_size
                    else:
                        assert isinstance(result, list)
                        rejected.append((result, marker))
                        snapshots.append(snapshot_of(raw, result))
                        # a feed of invalid items is held no more than valid ones
                        full = len(rejected) >= batch_size
                if full:
                    yield ValidatedChunk(
                        rows,
                        indexes,
                        markers,
                        rejected,
                        index + 1,
                        snapshots=snapshots,
                        deletes=deletes,
                        patches=patches,
                    )
                    rows, indexes, markers, rejected = [], [], [], []
                    snapshots, deletes, patches = [], [], []
        except MalformedFeedError as problem:
            feed_error = problem.error
        except RecursionError:
            feed_error = FeedError(ErrorCode.TOO_DEEP, "the document is nested too deeply to read")
        yield ValidatedChunk(
            rows,
            indexes,
            markers,
            rejected,
            index + 1,
            feed_error,
            last=True,
            snapshots=snapshots,
            deletes=deletes,
            patches=patches,
        )


def _bad_delete(raw: object, index: int) -> ItemError:
    sku = raw.get("sku") if isinstance(raw, dict) else None
    return ItemError(
        index,
        sku if isinstance(sku, str) else None,
        DELETE_FIELD,
        ErrorCode.TYPE,
        "must be true or false (text: true, false, 1, 0)",
    )
