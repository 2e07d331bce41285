"""Streaming reads of JSON feeds: the items of a `{"products": [...]}` document, one at a time
or a batch at a time, in bounded memory, its caps feed errors (ADR 0005); JSON Lines feeds are read by _json_lines.py.

Invariant: an item is yielded as `json.loads` of the whole document would have it
(tests/unit/test_json_stream_differential.py), a repeated member name marked (ADR 0027);
anything else in the document is read within the item size cap and ignored, and the document
must be one object with exactly one "products" array. Where an item ends is found by the
reader (_json_reader.py), how it is decoded by the decoder (_json_decoder.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import repeat
from typing import BinaryIO

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.hints import looks_like
from partner_ingest.domain.model.policy import FeedLimits

from ._json_decoder import BOM, JsonDecoder, Truncated, refuse_other_encodings
from ._json_lines import read_lines_items
from ._json_names import objects
from ._json_reader import ARRAY_CLOSED, NEXT_ITEM, UNKNOWN, Reader

__all__ = ["JsonDecoder", "read_document_items", "read_lines_items"]


def read_document_items(
    stream: BinaryIO, limits: FeedLimits, decoder: JsonDecoder
) -> Iterator[tuple[object, int | None]]:
    """Items of a `{"products": [...]}` document, with the byte offset where each starts
    when it was read on its own (None for items decoded in a batch).

    Other top-level members are read and ignored (they may carry metadata), each
    within the item size cap.
    """
    reader = Reader(stream, limits, decoder)
    # The encoding marks and the BOM are judged on the first 4 bytes, which short reads may split.
    reader.fill(4)
    if reader.peek() < 0:
        raise reader.fail("the document is empty")
    refuse_other_encodings(reader.buf)
    if reader.buf.startswith(BOM, reader.pos):
        reader.pos += len(BOM)
    items = _whole_document(reader)
    if items is not None:
        yield from zip(items, repeat(None))
        return
    if reader.peek() != ord("{"):
        other = looks_like(reader.buf[reader.pos : reader.pos + 512])
        media = {"CSV": "text/csv", "XML": "application/xml"}.get(other or "")
        hint = None if media is None else f"the body looks like {other}: send it with Content-Type {media}"
        raise reader.fail('a JSON feed is an object: {"products": [...]}', hint=hint)
    reader.pos += 1
    found = False
    first = True
    while True:
        byte = reader.peek()
        if byte == ord("}"):
            reader.pos += 1
            break
        if not first:
            if byte != ord(","):
                raise reader.fail("expected ',' or '}' between members")
            reader.pos += 1
            byte = reader.peek()
        first = False
        if byte != ord('"'):
            raise reader.fail("expected a member name in double quotes")
        key = reader.value()
        if reader.peek() != ord(":"):
            raise reader.fail("expected ':' after a member name")
        reader.pos += 1
        byte = reader.peek()
        if byte < 0:
            raise reader.fail("the document ends in the middle of a value")
        if key == "products":
            if found:
                raise reader.fail('"products" appears twice')
            if byte != ord("["):
                raise reader.fail('"products" must be an array')
            found = True
            yield from _array_items(reader)
        else:
            reader.value()
    if not found:
        raise reader.fail('the document has no "products" array')
    if reader.peek() >= 0:
        raise reader.fail("unexpected data after the document")


def _whole_document(reader: Reader) -> list[object] | None:
    """The items of a document read whole in one decode, or None for the item-by-item path.

    A document within the item size cap that came in one read is `{"products": [item, ...]}`
    in most feeds: decoded whole, its items are those one batch of the array would decode
    (`Reader.batch`, whose window holds the whole array, ending at the last item's brace:
    the same bytes, so the same values, and no offsets), without the steps of reading
    around the array. Anything else (another member, an item that is not an object, a
    repeated name, any error) is read by the item-by-item path, which says exactly what.
    """
    buf, start = reader.buf, reader.pos
    if len(buf) > reader.limits.max_item_bytes or buf[start : start + 1] != b"{" or reader.more() >= 0:
        return None  # (more() is the read the item-by-item path makes next: nothing is lost)
    data = buf[start:] if start else buf
    decoder = reader.decoder
    try:
        document = decoder.decode_unchecked(data)
    except (Truncated, MalformedFeedError):
        return None
    if type(document) is not dict or len(document) != 1:
        return None
    items = document.get("products")
    if type(items) is not list or not items or len(objects(items)) != len(items):
        return None
    return items if decoder.kept_every_name(data, items, outer=1) else None


def _array_items(reader: Reader) -> Iterator[tuple[object, int | None]]:
    reader.pos += 1  # the '['
    byte = reader.peek()
    if byte == ord("]"):
        reader.pos += 1
        return
    while True:
        if byte < 0:
            raise reader.fail("the document ends inside the products array")
        reader.after_item = UNKNOWN
        items = reader.batch() if byte == ord("{") else None
        if items is not None:
            # A batch knows no per-item offsets; the JSON Pointer locates its items.
            for item in items:
                yield item, None
        else:
            offset = reader.base + reader.pos
            yield reader.item(), offset
        after = reader.after_item
        if after == NEXT_ITEM:
            byte = ord("{")
            continue
        if after == ARRAY_CLOSED:
            return
        byte = reader.peek()
        if byte == ord(","):
            reader.pos += 1
            byte = reader.peek()
        elif byte == ord("]"):
            reader.pos += 1
            return
        elif byte < 0:
            raise reader.fail("the document ends inside the products array")
        else:
            raise reader.fail("expected ',' or ']' after an item")
