"""What the parser fuzzers and the differential test found, one regression test each.

The inputs that found them are kept in tests/fuzz/corpus/ (replayed by
tests/fuzz/test_corpus.py); these tests name the rule each one broke.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from partner_ingest.domain.model import ErrorCode, FeedLimits, MalformedFeedError
from partner_ingest.plugins import load_formats
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed
from partner_ingest.plugins.testing import parse_all

BUILT_IN = load_formats(entry_points=False)


@pytest.mark.parametrize("fmt", ["xml", "gmc-xml"])
@pytest.mark.parametrize("encoding", ["UTF-7", "EUC-JP", "Shift_JIS", "GB2312", "UTF-32"])
def test_an_xml_declaration_of_a_multi_byte_encoding_is_an_encoding_error(fmt: str, encoding: str) -> None:
    # expat raised a bare ValueError ("multi-byte encodings are not supported"), which
    # escaped the reader as an internal error.
    registry = load_formats() if fmt == "gmc-xml" else BUILT_IN
    document = f'<?xml version="1.0" encoding="{encoding}"?><catalog></catalog>'.encode()
    with pytest.raises(MalformedFeedError) as raised:
        parse_all(registry.get(fmt, 2), document)
    assert raised.value.error.code is ErrorCode.ENCODING
    assert "UTF-8" in raised.value.error.message


@pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
@pytest.mark.parametrize(
    "document",
    [
        b'{"products": [{"sku": "\\ud800"}]}',
        b'{"products": [{"sku": "a", "description": "x\\udc00"}]}',
        b'{"products": [{"sku": "a", "sku": "\\ud83d"}]}',  # in a value a repeated name drops
        b'{"meta": {"\\udfff": 1}, "products": []}',
    ],
)
def test_a_lone_surrogate_escape_is_an_encoding_error_on_both_decoders(
    msgspec: bool, document: bytes
) -> None:
    # The standard library decodes "\ud800" into a str no store can encode; msgspec
    # refused it but the exact fallback behind it accepted it.
    with pytest.raises(MalformedFeedError) as raised:
        parse_all(JsonFeed(2, prefer_msgspec=msgspec), document)
    assert raised.value.error.code in (ErrorCode.ENCODING, ErrorCode.MALFORMED)
    lines = document.replace(b'{"products": [', b"").rsplit(b"]", 1)[0] + b"\n"
    if lines.strip():
        with pytest.raises(MalformedFeedError):
            parse_all(JsonLinesFeed(2, prefer_msgspec=msgspec), lines)


@pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
def test_a_surrogate_pair_escape_is_text(msgspec: bool) -> None:
    items = parse_all(JsonFeed(2, prefer_msgspec=msgspec), b'{"products": [{"name": "\\ud83d\\ude00"}]}')
    assert [item for item, _ in items] == [{"name": "\U0001f600"}]


def test_the_stdlib_path_reads_a_lone_surrogate_only_where_it_must_look() -> None:
    # The check walks decoded values only when the slice has a "\u d..." escape.
    stream = io.BytesIO(b'{"products": [{"name": "\\\\ud800 is how you write it"}]}')
    items = list(JsonFeed(2, prefer_msgspec=False).parse(stream, FeedLimits()))
    assert [item for item, _ in items] == [{"name": "\\ud800 is how you write it"}]


@pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
def test_a_json_lines_line_may_start_with_whitespace_on_both_decoders(msgspec: bool) -> None:
    # The standard library's raw_decode reads from the first byte, so the stdlib path
    # refused " {...}" where msgspec read it (found by the differential test).
    document = b' {"sku": "A"}\n\t{"sku": "B", "sku": "C"}\r\n'
    items: list[Any] = [item for item, _ in parse_all(JsonLinesFeed(2, prefer_msgspec=msgspec), document)]
    assert items[0] == {"sku": "A"}
    assert list(items[1]) == ["sku"]
    assert items[1]["sku"].code is ErrorCode.DUPLICATE_KEY


@pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
@pytest.mark.parametrize("after", [b"\x1e", b"\x1c", b"\x0b", b"\x0c", "\u0085".encode(), "\u3000".encode()])
def test_only_json_whitespace_may_follow_a_value_on_both_decoders(msgspec: bool, after: bytes) -> None:
    # str.strip() took "\x1e" after the last line as whitespace on the stdlib path, where
    # msgspec refused it (found by the jsonl fuzz target).
    for feed, document in (
        (JsonLinesFeed(2, prefer_msgspec=msgspec), b'{"sku": "A"}\n{"sku": "B"}' + after),
        (JsonLinesFeed(2, prefer_msgspec=msgspec), b'{"sku": "A"}' + after + b"\n"),
    ):
        with pytest.raises(MalformedFeedError) as raised:
            parse_all(feed, document)
        assert raised.value.error.code is ErrorCode.MALFORMED
