"""What every parser fuzz target asserts, one function per built-in format.

For any bytes, reading them as a feed (both modes, the JSON formats on both
decoders) ends in a clear feed error, item errors, or valid rows; nothing else
escapes. Every row read in strict mode survives a round trip: rendered by the
same format, read again, it is the same row. The coverage-guided runner
(tests/fuzz/run.py) and the corpus replay (tests/fuzz/test_corpus.py) share
these checks, so whatever the fuzzer found stays checked by `pytest`.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from partner_ingest.domain.model import FeedLimits, ItemValidator, Mode, Product, contract_for
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.plugins import load_formats
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed
from partner_ingest.ports.formats import FeedFormat

PARTNER = "fuzz-partner"
VERSION = 2
# Small caps, so the limits are reached by small inputs too (the fuzzer's inputs are short).
LIMITS = FeedLimits(max_item_bytes=4096, max_field_chars=1024, max_items=200)
_BUILT_IN = load_formats(entry_points=False)


def _formats(name: str) -> list[FeedFormat]:
    if name == "json":
        return [JsonFeed(VERSION), JsonFeed(VERSION, prefer_msgspec=False)]
    if name == "jsonl":
        return [JsonLinesFeed(VERSION), JsonLinesFeed(VERSION, prefer_msgspec=False)]
    return [_BUILT_IN.get(name, VERSION)]


def _rows(feed_format: FeedFormat, data: bytes, mode: Mode) -> list[ProductRow] | None:
    """The valid rows of `data`, or None for a feed error; the reading itself must never raise."""
    validator = ItemValidator(
        contract_for(VERSION), mode, textual=feed_format.textual, partner_id=PARTNER, limits=LIMITS
    )
    rows: list[ProductRow] = []
    for chunk in FeedReading(feed_format, validator, LIMITS, batch_size=50).chunks(io.BytesIO(data)):
        rows.extend(chunk.rows)
        for errors, _marker in chunk.rejected:
            assert errors, "a rejected item names at least one error"
            for error in errors:
                assert error.message, error
        if chunk.feed_error is not None:
            assert chunk.feed_error.message, chunk.feed_error
            return None
    return rows


def _round_trip(feed_format: FeedFormat, rows: list[ProductRow] | None) -> None:
    if rows is None:
        return
    products = [Product.from_row(row) for row in rows]
    # One product per document: a feed may repeat a SKU, which one document must not.
    for product, row in zip(products, rows, strict=True):
        document = feed_format.render([product])
        again = _rows(feed_format, document, Mode.STRICT)
        assert again == [row], f"{feed_format.name}: {row!r} came back as {again!r} from {document!r}"


def check(name: str) -> Callable[[bytes], None]:
    """The check of format `name` for one input."""
    formats = _formats(name)

    def one_input(data: bytes) -> None:
        outcomes = []
        for feed_format in formats:
            rows = _rows(feed_format, data, Mode.STRICT)
            outcomes.append(rows)
            _round_trip(feed_format, rows)
            _rows(feed_format, data, Mode.LENIENT)
        # Both JSON decoders accept the same feeds, with the same rows.
        assert all(rows == outcomes[0] for rows in outcomes), outcomes

    return one_input


TARGETS = ("json", "jsonl", "csv", "xml")
