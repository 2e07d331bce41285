"""The JSON stream reader's item boundaries, against adversarial items and short reads.

The reader finds where an item ends by balancing braces and confirming with a
decode, so the hard cases are strings full of `{`, `}` and escaped quotes, items
that straddle its 1 MiB read, and streams that return a few bytes per read. Both
decoders (msgspec and the standard library's) must read exactly what `json.loads`
reads, with each item's byte offset.
"""

from __future__ import annotations

import codecs
import io
import json
from decimal import Decimal
from typing import Any, BinaryIO, cast

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.examples import examples

from partner_ingest.domain.model import ErrorCode, FeedLimits, jsontext
from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.report import Location
from partner_ingest.plugins._json_reader import _BATCH_BYTES, Reader, _line_breaks
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed
from partner_ingest.plugins.testing import TrickleStream, parse_all

DECODERS = pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
MiB = 1 << 20
LARGE = FeedLimits(max_item_bytes=3 * MiB, max_field_chars=2 * MiB)

# Text built from the characters that mislead a brace counter or a string scanner.
tricky_text = st.text(st.sampled_from('{}[]"\\,:/ \n\t\u00e9\u2028\U0001f600ab'), max_size=30)
tricky_values = st.recursive(
    tricky_text | st.integers(-(10**15), 10**15) | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=10,
)
tricky_items = st.dictionaries(tricky_text, tricky_values, max_size=5)


def expected(document: bytes) -> list[Any]:
    return list(json.loads(document, parse_float=Decimal)["products"])


@DECODERS
@settings(max_examples=examples(150))
@given(items=st.lists(tricky_items, max_size=6), other=tricky_values, trickle=st.booleans())
def test_items_with_braces_and_quotes_in_strings_are_read_exactly(
    msgspec: bool, items: list[dict[str, Any]], other: Any, trickle: bool
) -> None:
    # Another top-level member before the products: it must be skipped just as exactly.
    document = jsontext.dumps({"meta": other, "products": items}).encode()
    stream = TrickleStream(document) if trickle else io.BytesIO(document)
    parsed = parse_all(JsonFeed(1, prefer_msgspec=msgspec), stream)
    assert [item for item, _ in parsed] == expected(document)
    for item, offset in parsed:
        if offset is not None:  # items decoded in a batch carry no offset (see test_item_rules)
            assert isinstance(offset, int), f"a JSON item's marker is its byte offset, not {offset!r}"
            assert json.loads(document[offset:].decode(), cls=_Prefix) == item


class _Prefix(json.JSONDecoder):
    """Decodes the first value of a text and ignores the rest (to check item offsets)."""

    def decode(self, s: str, _w: Any = None) -> Any:
        return self.raw_decode(s)[0]


@DECODERS
@given(items=st.lists(tricky_items, max_size=6))
def test_json_lines_with_tricky_strings(msgspec: bool, items: list[dict[str, Any]]) -> None:
    document = "".join(jsontext.dumps(item) + "\n" for item in items).encode()
    parsed = parse_all(JsonLinesFeed(1, prefer_msgspec=msgspec), TrickleStream(document))
    assert [item for item, _ in parsed] == items
    assert [line for _, line in parsed] == list(range(1, len(items) + 1))


# Where an item is cut by the reader's 1 MiB read: inside a string of braces, right
# after an escaping backslash, inside a multi-byte character, at the item's last brace.
SPLITS = {
    "inside a string of braces": '{"sku":"A","name":"}}}}}}{{{{"}',
    "after an escaping backslash": '{"sku":"A","name":"x\\\\\\"}\\""}',
    "inside a multi-byte character": '{"sku":"A","name":"\u00e9\u00e9\u00e9\U0001f600"}',
    "at the closing brace": '{"sku":"A","name":"plain"}',
}


@DECODERS
@pytest.mark.parametrize("item", SPLITS.values(), ids=SPLITS.keys())
def test_an_item_across_the_1_mib_read_boundary(msgspec: bool, item: str) -> None:
    encoded = item.encode()
    prefix = b'{"products":[{"pad":"'
    for cut in range(1, len(encoded)):  # the boundary falls after `cut` bytes of the item
        pad = MiB - len(prefix) - len(b'"},') - cut
        document = prefix + b"x" * pad + b'"},' + encoded + b"]}"
        assert document.index(encoded) + cut == MiB
        parsed = parse_all(
            JsonFeed(1, prefer_msgspec=msgspec), io.BufferedReader(io.BytesIO(document)), LARGE
        )
        assert [i for i, _ in parsed] == expected(document), f"cut after {cut} bytes"
        assert parsed[1][1] in (None, MiB - cut)


@DECODERS
def test_an_item_larger_than_one_read_fits_when_the_cap_allows(msgspec: bool) -> None:
    item = {"sku": "A", "description": "{" * (MiB + 10)}
    document = jsontext.dumps({"products": [item, item]}).encode()
    parsed = list(JsonFeed(1, prefer_msgspec=msgspec).parse(io.BytesIO(document), LARGE))
    assert [i for i, _ in parsed] == [item, item]


def _reader_at_first_item(document: bytes, msgspec: bool) -> Reader:
    feed = JsonFeed(2, prefer_msgspec=msgspec)
    reader = Reader(io.BytesIO(document), FeedLimits(), feed.decoder(FeedLimits()))
    reader.fill(1)
    reader.pos = document.index(b"[") + 1
    return reader


@DECODERS
def test_a_batch_decodes_a_window_of_items_not_the_whole_item_size_cap(msgspec: bool) -> None:
    # A batch's items are validated while they are still in the cache: a window of them,
    # however many more the cap would let in.
    items = [{"sku": f"SKU-{n:05d}", "name": "x" * 80} for n in range(2_000)]
    document = jsontext.dumps({"products": items}).encode()
    assert len(document) > 4 * _BATCH_BYTES < FeedLimits().max_item_bytes
    reader = _reader_at_first_item(document, msgspec)
    batch = reader.batch()
    assert batch is not None
    assert 0 < len(batch) < len(items)
    assert len(jsontext.dumps(batch).encode()) <= _BATCH_BYTES
    assert batch == items[: len(batch)]


@DECODERS
@pytest.mark.parametrize("size", [_BATCH_BYTES, 3 * _BATCH_BYTES])
def test_an_item_larger_than_the_batch_window_is_read_in_a_wider_batch(msgspec: bool, size: int) -> None:
    # No item ends in the window: it widens to the cap rather than going item by item.
    big = {"sku": "BIG", "description": "x" * size}
    small = [{"sku": f"S{n}", "d": {"w": n}} for n in range(10_000)]
    document = jsontext.dumps({"products": [*small[:5], big, *small[5:], big]}).encode()
    assert len(document) > FeedLimits().max_item_bytes  # not read whole
    parsed = parse_all(JsonFeed(2, prefer_msgspec=msgspec), io.BytesIO(document))
    assert [item for item, _ in parsed] == expected(document)
    assert [offset for _, offset in parsed] == [None] * len(parsed)  # every item in a batch
    reader = _reader_at_first_item(document, msgspec)
    assert reader.batch() == small[:5]
    second = reader.batch()
    assert second is not None
    assert second[:2] == [big, small[5]]


@given(
    text=st.lists(st.sampled_from([b"\n", b"x", b"\n\n", b"y" * 70, b"z" * 5000]), max_size=60).map(b"".join),
    data=st.data(),
)
@example(text=b"\n" * 10_000, data=None)
@example(text=b'{"products": [\n' + b"x" * 5000 + b"\n", data=None)
def test_line_breaks_are_counted_sparse_or_dense(text: bytes, data: Any) -> None:
    end = len(text) if data is None else data.draw(st.integers(0, len(text)))
    assert _line_breaks(text, end) == text.count(b"\n", 0, end)


@DECODERS
def test_json_lines_skip_every_whitespace_only_line_and_keep_counting(msgspec: bool) -> None:
    # Blank lines are looked for only where the decoder refused a line: each kind of JSON
    # and non-JSON whitespace alone on a line is skipped, on either decoder, and the items
    # after it keep their own line numbers.
    body = b'\xef\xbb\xbf\n{"a": 1}\n  \r\n\t\n{"b": 2}\r\n\x0b\x0c\n{"c": 3}'
    items = list(JsonLinesFeed(2, prefer_msgspec=msgspec).parse(io.BytesIO(body), FeedLimits()))
    assert items == [({"a": 1}, 2), ({"b": 2}, 5), ({"c": 3}, 7)]


@DECODERS
def test_a_json_lines_error_after_a_byte_order_mark_names_the_documents_byte(msgspec: bool) -> None:
    # The failing line's start is worked out only for its error: past the mark, in the document.
    body = b'\xef\xbb\xbf  {"a": 1} x\n'
    with pytest.raises(MalformedFeedError) as raised:
        list(JsonLinesFeed(2, prefer_msgspec=msgspec).parse(io.BytesIO(body), FeedLimits()))
    assert raised.value.error.location == Location(line=1, column=12, offset=14)
    body = b'{"a": 1}\n\n{"b": 2,\n'
    with pytest.raises(MalformedFeedError) as raised:
        list(JsonLinesFeed(2, prefer_msgspec=msgspec).parse(io.BytesIO(body), FeedLimits()))
    assert raised.value.error.location == Location(line=3)


@DECODERS
@pytest.mark.parametrize("read_size", [1, 2, 3])
def test_a_byte_order_mark_split_across_short_reads_is_skipped(msgspec: bool, read_size: int) -> None:
    # A stream may hand out fewer bytes than the mark has: the first bytes are judged together.
    body = codecs.BOM_UTF8 + b'{"products": [{"a": 1}, {"b": 2}]}'
    feed = JsonFeed(2, prefer_msgspec=msgspec)
    items = [item for item, _ in feed.parse(_short_reads(body, read_size), FeedLimits())]
    assert items == [{"a": 1}, {"b": 2}]


@DECODERS
@pytest.mark.parametrize("read_size", [1, 2, 3])
def test_a_utf16_document_read_a_byte_at_a_time_is_an_encoding_error(msgspec: bool, read_size: int) -> None:
    body = '{"products": [{"a": 1}]}'.encode("utf-16-le")
    with pytest.raises(MalformedFeedError) as raised:
        list(JsonFeed(2, prefer_msgspec=msgspec).parse(_short_reads(body, read_size), FeedLimits()))
    assert raised.value.error.code is ErrorCode.ENCODING


class _ShortReads(io.RawIOBase):
    """A stream that hands out `size` bytes a read, as a slow socket may."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._at = data, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data[self._at : self._at + min(self._size, len(buffer))]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)


def _short_reads(data: bytes, size: int) -> BinaryIO:
    return cast("BinaryIO", _ShortReads(data, size))
