"""Differential: the JSON stream reader reads what `json.loads` reads, on both decoders.

The reader finds item boundaries by guessing and decodes slices with msgspec
or the standard library; `json.loads` reads the whole document at once. For
generated documents (objects with repeated names, strings full of braces,
quotes and escapes, numbers in every notation) and for random damage to them
(a byte dropped, inserted or replaced), both must agree: the same accept or
reject, and when they accept, the same items, value for value and type for
type. The reader's own rules are the reference's too: a feed is
`{"products": [...]}` with one `products`, NaN and Infinity are not numbers, a
lone surrogate (`"\\ud800"`) is not text, and a repeated member name marks its
value (`duplicate_key`) instead of keeping the last one.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.examples import examples
from support.tracing import drawn_untraced, untraced

from partner_ingest.domain.model import ErrorCode, FeedLimits, MalformedFeedError, UnreadableValue
from partner_ingest.plugins._json_reader import Reader
from partner_ingest.plugins._json_stream import _whole_document
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed
from partner_ingest.plugins.testing import TrickleStream

DECODERS = pytest.mark.parametrize("msgspec", [True, False], ids=["msgspec", "stdlib"])
REPEATED = "<repeated>"
REJECTED = "<rejected>"
# Small enough that documents straddle it: batches, single items and the exact path all run.
LIMITS = FeedLimits(max_item_bytes=400)


class _Refused(ValueError):
    pass


def _mark_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    for key in out:
        if sum(1 for k, _ in pairs if k == key) > 1:
            out[key] = REPEATED
    return out


def _refuse_constant(name: str) -> Any:
    raise _Refused(name)


def _text_ok(value: Any) -> bool:
    """No lone surrogates anywhere (in names or values)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list | tuple):  # objects are lists of (name, value) pairs here
        return all(_text_ok(v) for v in value)
    return True


def _loads(text: str) -> Any:
    every_pair = json.loads(
        text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=list
    )
    if not _text_ok(every_pair):  # anywhere, a repeated member's value too
        raise _Refused("lone surrogate")
    return json.loads(text, parse_float=Decimal, object_pairs_hook=_mark_repeats)


def reference_document(document: bytes) -> Any:
    try:
        value = _loads(document.decode("utf-8"))
    except (ValueError, RecursionError):
        return REJECTED
    if not isinstance(value, dict) or not isinstance(value.get("products"), list):
        return REJECTED
    return value["products"]


def reference_lines(document: bytes) -> Any:
    items = []
    for line in document.split(b"\n"):
        if not line or line.isspace():  # JSON Lines: blank lines are skipped
            continue
        try:
            items.append(_loads(line.decode("utf-8")))
        except (ValueError, RecursionError):
            return REJECTED
    return items


def typed(value: Any) -> Any:
    """A value with its types spelled out (1 == Decimal(1) == True, which must not pass)."""
    if isinstance(value, UnreadableValue):
        assert value.code is ErrorCode.DUPLICATE_KEY, value
        return REPEATED
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def read(feed: Any, document: bytes, trickle: bool) -> Any:
    stream = TrickleStream(document) if trickle else io.BytesIO(document)
    try:
        return [typed(item) for item, _ in feed.parse(stream, LIMITS)]
    except MalformedFeedError:
        return REJECTED


# --- documents --------------------------------------------------------------------

_tricky = st.text(st.sampled_from('{}[]"\\,:/ \n\t\u00e9\u2028\U0001f600ab'), max_size=12)
_names = st.sampled_from(["sku", "price", "a", "b", "x:y", '"', "products"]) | _tricky


def _number_texts() -> st.SearchStrategy[str]:
    integer = st.integers(-(10**12), 10**12).map(str)
    fraction = st.builds(
        lambda i, f, e: f"{i}.{f}{e}",
        st.integers(-999, 999),
        st.integers(0, 999),
        st.sampled_from(["", "e3", "E-2", "e+1"]),
    )
    return integer | fraction | st.sampled_from(["-0", "-0.0", "0e0", "1E400", "-0.00"])


def _string_texts() -> st.SearchStrategy[str]:
    plain = _tricky.map(json.dumps)
    escapes = st.sampled_from(['"\\ud83d\\ude00"', '"\\ud800"', '"\\udc00x"', '"\\u0000"', '"\\\\ud800"'])
    return plain | escapes


def _json_texts() -> st.SearchStrategy[str]:
    scalars = _number_texts() | _string_texts() | st.sampled_from(["true", "false", "null"])

    def containers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arrays = st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
        members = st.lists(st.tuples(_names.map(json.dumps), inner), max_size=4)
        objects = members.map(lambda ms: "{" + ", ".join(f"{k}: {v}" for k, v in ms) + "}")
        return arrays | objects

    return st.recursive(scalars, containers, max_leaves=12)


def _items() -> st.SearchStrategy[str]:
    members = st.lists(st.tuples(_names.map(json.dumps), _json_texts()), max_size=5)
    items = members.map(lambda ms: "{" + ",".join(f"{k}:{v}" for k, v in ms) + "}") | _json_texts()
    # Within the item cap (one damaged byte more is fine), so a size refusal is never the difference.
    return items.filter(lambda text: len(text.encode()) <= LIMITS.max_item_bytes - 50)


@st.composite
def damaged(draw: st.DrawFn, documents: st.SearchStrategy[bytes]) -> bytes:
    """A document, sometimes with one byte dropped, inserted or replaced."""
    document = draw(documents)
    kind = draw(st.sampled_from(["none", "none", "drop", "insert", "replace"]))
    if kind == "none" or not document:
        return document
    at = draw(st.integers(0, len(document) - 1))
    byte = draw(st.sampled_from(b'{}[],:"\\ 0-eE.un\n\xff\xc3'))
    if kind == "drop":
        return document[:at] + document[at + 1 :]
    if kind == "insert":
        return document[:at] + bytes([byte]) + document[at:]
    return document[:at] + bytes([byte]) + document[at + 1 :]


# Both drawn outside the tracer: generating them is none of the package's code.
_documents = drawn_untraced(
    st.builds(
        lambda meta, items, space: (
            "{" + meta + '"products":' + space + "[" + ("," + space).join(items) + "]}"
        ).encode(),
        st.sampled_from(["", '"meta": {"a": 1, "a": 2}, ', '"n": [1, "}"], ']),
        st.lists(_items(), max_size=6),
        st.sampled_from(["", " ", "\n  "]),
    )
)
_line_documents = drawn_untraced(
    st.lists(_items() | st.sampled_from(["", "  "]), max_size=6).map(lambda lines: "\n".join(lines).encode())
)


@DECODERS
@settings(max_examples=examples(300))
@given(document=damaged(_documents), trickle=st.booleans())
@example(document=b'{"products": [{"sku": "\\ud800"}]}', trickle=False)
@example(document=b'{"products": [{"sku": 1, "sku": 2}], "products": []}', trickle=False)
@example(document=b'{"products": [{"a": "\\":", "a": 1}]}', trickle=False)
def test_a_json_document_reads_as_json_loads_reads_it(msgspec: bool, document: bytes, trickle: bool) -> None:
    # The reference is the test's own code: run outside the tracer (support/tracing.py).
    expected = untraced(lambda: typed_reference(reference_document(document)))
    assert read(JsonFeed(2, prefer_msgspec=msgspec), document, trickle) == expected


@DECODERS
@settings(max_examples=examples(300))
@given(document=damaged(_line_documents), trickle=st.booleans())
@example(document=b'{"sku": "\\ud800"}\n', trickle=False)
@example(document=b'{"sku": 1, "sku": 2}\n\n[1]', trickle=False)
@example(document=b' {"sku": 0, "sku": 0}', trickle=False)
@example(document=b' \t{"sku": 0}\r\n', trickle=False)
def test_a_json_lines_feed_reads_as_json_loads_reads_each_line(
    msgspec: bool, document: bytes, trickle: bool
) -> None:
    expected = untraced(lambda: typed_reference(reference_lines(document)))
    assert read(JsonLinesFeed(2, prefer_msgspec=msgspec), document, trickle) == expected


def typed_reference(value: Any) -> Any:
    if value is REJECTED:
        return REJECTED
    return [_typed_plain(v) for v in value]


def _typed_plain(value: Any) -> Any:
    if value is REPEATED:
        return REPEATED
    if isinstance(value, dict):
        return {k: _typed_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed_plain(v) for v in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def _read_marked(feed: Any, document: bytes, trickle: bool) -> Any:
    """Items with their markers (offsets), or the feed error's code and message."""
    stream = TrickleStream(document) if trickle else io.BytesIO(document)
    try:
        return [(typed(item), marker) for item, marker in feed.parse(stream, LIMITS)]
    except MalformedFeedError as problem:
        return problem.error.code, problem.error.message


@DECODERS
@settings(max_examples=examples(300))
@given(document=damaged(_documents))
@example(document=b'{"products": [{"sku": "A", "url": "https://x"}, {"sku": "B"}]}')
@example(document=b'{"products": [{"sku": 1, "sku": 2}]}')
@example(document=b'{"products": [{"sku": 1}, 2]}')
@example(
    document=b' {"products": [{"n": 1e999999999999}, {"n": 1.5e9999999999999999999999999999999999999999}]}'
)
# Found by CI's profile: a batch's window ended between the last item's brace and the `]` after
# it. Read whole, the `]` was in the buffer and the batch ended there; trickled, it was not yet,
# the batch took an earlier brace followed by `,{` inside a string, failed to decode, and the
# item was read on its own (an offset where the other read gave none).
@example(
    document=b'{"products":\n  [{},\n  {},\n  {"sku":0},\n  [0,-1000,-100.10E-2],\n  {"price":[],"products":[],'
    b'"":[],"sku":{"a": 0, "": 0.0e3, "a": [], "a": "\\ud83d\\ude00"},":::::::\\"\\u00e9\\ud83d\\ude00":'
    b'{"products": "\\\\ud800"}},\n  {"sku":1E400,"":-100000000000,":::::::\\"\\u00e9\\ud83d\\ude00":'
    b'{"products": "\\\\ud800"},":::\\u00e9":[[-10000,-0.0,1E400],{"sku": -1000000, "price": 1E400, "a": -100,'
    b' ":::::::\\"\\"\\u00e9": -1000000000}],"products":[]}]}'
)
def test_a_document_read_whole_reads_as_the_item_by_item_path_reads_it(
    msgspec: bool, document: bytes
) -> None:
    # A document within the item cap that comes in one read is decoded whole; one that
    # trickles in is read item by item: the same items, markers and errors either way.
    feed = JsonFeed(2, prefer_msgspec=msgspec)
    assert _read_marked(feed, document, trickle=False) == _read_marked(feed, document, trickle=True)


def test_a_small_document_is_decoded_whole() -> None:
    # (else the test above would compare the item-by-item path with itself)
    document = b'{"products": [{"sku": "A", "price": 1.50}, {"sku": "B", "dimensions": {"unit": "cm"}}]}'
    reader = Reader(io.BytesIO(document), LIMITS, JsonFeed(2).decoder(LIMITS))
    assert reader.peek() == ord("{")
    assert _whole_document(reader) == [
        {"sku": "A", "price": Decimal("1.50")},
        {"sku": "B", "dimensions": {"unit": "cm"}},
    ]
