"""Malformed documents, in every format, end in exactly one feed-level error.

The report has `feed_error` with a clear ErrorCode and message, the status is
rejected, nothing is written, and no exception escapes: truncation, trailing
garbage, NaN literals, broken quoting, ragged rows, wrong encodings, DTDs and
entity bombs, deep nesting, and every cap of `FeedLimits`.
"""

from __future__ import annotations

import codecs
import io
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PARTNER, feeds
from support.examples import examples

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import (
    ErrorCode,
    FeedLimits,
    FeedStatus,
    IngestReport,
    Mode,
    Partner,
    ValidationPolicy,
    jsontext,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import FormatRegistry, load_formats
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed

BUILT_IN = load_formats(entry_points=False)
# The JSON formats again, on the standard library's decoder (msgspec is the default).
STDLIB = FormatRegistry()
for _version in (1, 2):
    STDLIB.register(JsonFeed(_version, prefer_msgspec=False), plugin="test: json on stdlib")
    STDLIB.register(JsonLinesFeed(_version, prefer_msgspec=False), plugin="test: jsonl on stdlib")

DECODERS = pytest.mark.parametrize("registry", [BUILT_IN, STDLIB], ids=["msgspec", "stdlib"])


def ingest(
    body: bytes, name: str, *, version: int = 1, limits: FeedLimits | None = None, registry: Any = BUILT_IN
) -> tuple[IngestReport, InMemoryStore]:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id=PARTNER, name="Acme", created_at=clock.now()))
        uow.commit()
    use_case = IngestFeed(store.unit_of_work, registry, clock, SequentialIds(), limits=limits)
    report = use_case(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format=name, version=version))
    return report, store


def assert_feed_error(report: IngestReport, store: InMemoryStore, *codes: ErrorCode) -> None:
    assert report.feed_error is not None, f"no feed error: {report.to_json()}"
    assert report.feed_error.code in codes, report.feed_error
    assert report.feed_error.message, "a feed error needs a message"
    assert report.status is FeedStatus.REJECTED
    assert store.tables.products == {}, "a rejected feed writes nothing"
    assert len(store.tables.imports) == 1, "the rejected feed is still in the ledger"


ITEM = b'{"sku":"A-1","name":"Mug","price":9.5,"currency":"EUR","quantity":3}'
CSV_HEADER = b"sku,name,price,currency,quantity\r\n"
CSV_ROW = b"A-1,Mug,9.50,EUR,3\r\n"
XML_ITEM = b"<product><sku>A-1</sku><name>Mug</name><price>9.50</price><currency>EUR</currency><quantity>3</quantity></product>"


def xml(*products: bytes, prolog: bytes = b'<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return prolog + b"<catalog>" + b"".join(products) + b"</catalog>"


# --- one table of documents, every format ------------------------------------------

CASES: list[tuple[str, str, bytes, tuple[ErrorCode, ...]]] = [
    # JSON documents
    ("json", "empty", b"", (ErrorCode.MALFORMED,)),
    ("json", "only whitespace", b" \r\n\t ", (ErrorCode.MALFORMED,)),
    ("json", "trailing garbage", b'{"products":[' + ITEM + b"]} trailing", (ErrorCode.MALFORMED,)),
    ("json", "a second document", b'{"products":[]}{"products":[]}', (ErrorCode.MALFORMED,)),
    ("json", "NaN literal", b'{"products":[{"sku":"A","price":NaN}]}', (ErrorCode.MALFORMED,)),
    ("json", "Infinity literal", b'{"products":[{"sku":"A","price":Infinity}]}', (ErrorCode.MALFORMED,)),
    ("json", "-Infinity literal", b'{"products":[{"sku":"A","price":-Infinity}]}', (ErrorCode.MALFORMED,)),
    ("json", "no products member", b'{"items":[' + ITEM + b"]}", (ErrorCode.MALFORMED,)),
    ("json", "products twice", b'{"products":[],"products":[]}', (ErrorCode.MALFORMED,)),
    ("json", "products not an array", b'{"products":{"sku":"A"}}', (ErrorCode.MALFORMED,)),
    ("json", "an array, not an object", b"[" + ITEM + b"]", (ErrorCode.MALFORMED,)),
    ("json", "missing comma", b'{"products":[' + ITEM + ITEM + b"]}", (ErrorCode.MALFORMED,)),
    ("json", "single quotes", b"{'products':[]}", (ErrorCode.MALFORMED,)),
    ("json", "unterminated string", b'{"products":[{"sku":"A}]}', (ErrorCode.MALFORMED,)),
    (
        "json",
        "exponent past Decimal's range",
        b'{"products":[{"sku":"A","name":"n","price":1e99999999999999999999,"currency":"EUR","quantity":1}]}',
        (ErrorCode.NUMBER_TOO_LONG, ErrorCode.MALFORMED),
    ),
    (
        "json",
        "UTF-16 with BOM",
        ('{"products":[' + ITEM.decode() + "]}").encode("utf-16"),
        (ErrorCode.ENCODING,),
    ),
    (
        "json",
        "UTF-16 without BOM",
        ('{"products":[' + ITEM.decode() + "]}").encode("utf-16-le"),
        (ErrorCode.ENCODING,),
    ),
    (
        "json",
        "Latin-1 bytes",
        '{"products":[{"sku":"A","name":"Crème"}]}'.encode("latin-1"),
        (ErrorCode.ENCODING,),
    ),
    (
        "json",
        "deep nesting (100k)",
        b'{"products":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        (ErrorCode.TOO_DEEP,),
    ),
    (
        "json",
        "deep nesting (100k objects)",
        b'{"products":[' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]}",
        (ErrorCode.TOO_DEEP, ErrorCode.ITEM_TOO_LARGE),
    ),
    (
        "json",
        "deep nesting outside products",
        b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b',"products":[]}',
        (ErrorCode.TOO_DEEP,),
    ),
    # JSON Lines
    ("jsonl", "a broken line", ITEM + b"\n" + ITEM[:-5] + b"\n", (ErrorCode.MALFORMED,)),
    ("jsonl", "two values on a line", ITEM + b" " + ITEM + b"\n", (ErrorCode.MALFORMED,)),
    ("jsonl", "NaN literal", b'{"sku":"A","price":NaN}\n', (ErrorCode.MALFORMED,)),
    ("jsonl", "Latin-1 bytes", '{"sku":"A","name":"Crème"}\n'.encode("latin-1"), (ErrorCode.ENCODING,)),
    (
        "jsonl",
        "deep nesting (100k)",
        b"[" * 100_000 + b"]" * 100_000 + b"\n",
        (ErrorCode.TOO_DEEP, ErrorCode.ITEM_TOO_LARGE),
    ),
    # CSV
    ("csv", "empty", b"", (ErrorCode.MALFORMED,)),
    ("csv", "unclosed quote", CSV_HEADER + b'A-1,"Mug,9.50,EUR,3\r\n', (ErrorCode.MALFORMED,)),
    ("csv", "text after a closing quote", CSV_HEADER + b'A-1,"Mug"x,9.50,EUR,3\r\n', (ErrorCode.MALFORMED,)),
    ("csv", "a short row", CSV_HEADER + CSV_ROW + b"A-2,Cup,1.00,EUR\r\n", (ErrorCode.MALFORMED,)),
    ("csv", "a long row", CSV_HEADER + b"A-2,Cup,1.00,EUR,1,extra\r\n", (ErrorCode.MALFORMED,)),
    ("csv", "duplicate header", b"sku,sku,name\r\nA,B,C\r\n", (ErrorCode.MALFORMED,)),
    ("csv", "empty header name", b"sku,,name\r\nA,B,C\r\n", (ErrorCode.MALFORMED,)),
    (
        "csv",
        "bare CR line endings",
        CSV_HEADER.replace(b"\r\n", b"\r") + CSV_ROW.replace(b"\r\n", b"\r") * 2,
        (ErrorCode.MALFORMED,),
    ),
    ("csv", "UTF-16 with BOM", (CSV_HEADER + CSV_ROW).decode().encode("utf-16"), (ErrorCode.ENCODING,)),
    ("csv", "UTF-16 without BOM", (CSV_HEADER + CSV_ROW).decode().encode("utf-16-le"), (ErrorCode.ENCODING,)),
    (
        "csv",
        "Latin-1 bytes",
        CSV_HEADER + "A-1,Crème,9.50,EUR,3\r\n".encode("latin-1"),
        (ErrorCode.ENCODING,),
    ),
    (
        "csv",
        "a UTF-8 sequence cut short at the end",
        CSV_HEADER + "A-1,Crème".encode()[:7],
        (ErrorCode.ENCODING,),
    ),
    # XML
    ("xml", "empty", b"", (ErrorCode.MALFORMED,)),
    ("xml", "not XML", b"sku,name\r\n", (ErrorCode.MALFORMED,)),
    ("xml", "truncated", xml(XML_ITEM)[:-12], (ErrorCode.MALFORMED,)),
    ("xml", "trailing garbage", xml(XML_ITEM) + b"<more/>", (ErrorCode.MALFORMED,)),
    (
        "xml",
        "mismatched tags",
        b"<catalog><product><sku>A</name></product></catalog>",
        (ErrorCode.MALFORMED,),
    ),
    ("xml", "another root", b"<products>" + XML_ITEM + b"</products>", (ErrorCode.MALFORMED,)),
    ("xml", "another element in the catalog", xml(XML_ITEM, b"<note/>"), (ErrorCode.MALFORMED,)),
    ("xml", "an undefined entity", xml(b"<product><sku>&nope;</sku></product>"), (ErrorCode.MALFORMED,)),
    (
        "xml",
        "a DTD",
        b'<?xml version="1.0"?><!DOCTYPE catalog [<!ELEMENT catalog ANY>]>' + xml(XML_ITEM, prolog=b""),
        (ErrorCode.FORBIDDEN_MARKUP,),
    ),
    (
        "xml",
        "an external DTD",
        b'<?xml version="1.0"?><!DOCTYPE catalog SYSTEM "http://example.com/c.dtd">' + xml(prolog=b""),
        (ErrorCode.FORBIDDEN_MARKUP,),
    ),
    (
        "xml",
        "an external entity (XXE)",
        b'<?xml version="1.0"?><!DOCTYPE catalog [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + xml(b"<product><sku>&xxe;</sku></product>", prolog=b""),
        (ErrorCode.FORBIDDEN_MARKUP,),
    ),
    (
        "xml",
        "a parameter entity",
        b'<?xml version="1.0"?><!DOCTYPE catalog [<!ENTITY % p SYSTEM "http://example.com/p.dtd"> %p;]><catalog/>',
        (ErrorCode.FORBIDDEN_MARKUP,),
    ),
    (
        "xml",
        "Latin-1 bytes in a UTF-8 document",
        xml(b"<product><name>Cr\xe8me</name></product>"),
        (ErrorCode.ENCODING,),
    ),
    (
        "xml",
        "Latin-1 bytes, no declaration",
        xml(b"<product><name>Cr\xe8me</name></product>", prolog=b""),
        (ErrorCode.ENCODING,),
    ),
    (
        "xml",
        "an unknown encoding",
        xml(XML_ITEM, prolog=b'<?xml version="1.0" encoding="klingon"?>'),
        (ErrorCode.ENCODING,),
    ),
    (
        "xml",
        "deep nesting",
        xml(b"<product>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</product>"),
        (ErrorCode.TOO_DEEP,),
    ),
]


@pytest.mark.parametrize(("name", "case", "body", "codes"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
@pytest.mark.parametrize("version", [1, 2])
def test_a_malformed_document_is_one_feed_error(
    name: str, case: str, body: bytes, codes: tuple[ErrorCode, ...], version: int
) -> None:
    # CPU time of this process: the work is bounded whatever else the machine is doing.
    started = time.process_time()
    report, store = ingest(body, name, version=version)
    assert_feed_error(report, store, *codes)
    spent = time.process_time() - started
    assert spent < 2.0, f"{case}: took {spent:.1f} s of CPU"


JSON_CASES = [c for c in CASES if c[0] in ("json", "jsonl")]


@pytest.mark.parametrize(
    ("name", "case", "body", "codes"), JSON_CASES, ids=[f"{c[0]}: {c[1]}" for c in JSON_CASES]
)
def test_a_malformed_json_document_is_one_feed_error_on_the_stdlib_decoder(
    name: str, case: str, body: bytes, codes: tuple[ErrorCode, ...]
) -> None:
    report, store = ingest(body, name, registry=STDLIB)
    assert_feed_error(report, store, *codes)


# --- every cap of FeedLimits, in every format ------------------------------------------


def _json_feed(items: list[bytes]) -> bytes:
    return b'{"products":[' + b",".join(items) + b"]}"


def _item(**fields: str) -> bytes:
    base = {"sku": '"A-1"', "name": '"Mug"', "price": "9.5", "currency": '"EUR"', "quantity": "3", **fields}
    return ("{" + ",".join(f'"{k}":{v}' for k, v in base.items()) + "}").encode()


def _csv(rows: list[dict[str, str]]) -> bytes:
    header = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(header)] + [",".join(row.get(k, "") for k in header) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def _row(**fields: str) -> dict[str, str]:
    return {"sku": "A-1", "name": "Mug", "price": "9.50", "currency": "EUR", "quantity": "3", **fields}


def _xml(rows: list[dict[str, str]]) -> bytes:
    return xml(
        *(
            b"<product>" + b"".join(f"<{k}>{v}</{k}>".encode() for k, v in row.items()) + b"</product>"
            for row in rows
        )
    )


def _jsonl(items: list[bytes]) -> bytes:
    return b"\n".join(items) + b"\n"


Builder = Callable[[list[dict[str, str]]], bytes]


def _json_item(row: dict[str, str]) -> bytes:
    # Numbers as JSON numbers, the rest as strings, like a partner's JSON.
    typed: dict[str, object] = dict(row)
    typed["price"] = Decimal(row["price"])
    typed["quantity"] = int(row["quantity"])
    return jsontext.dumps(typed).encode()


DOCUMENTS: dict[str, Builder] = {
    "json": lambda rows: _json_feed([_json_item(r) for r in rows]),
    "jsonl": lambda rows: _jsonl([_json_item(r) for r in rows]),
    "csv": _csv,
    "xml": _xml,
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_too_many_items(name: str) -> None:
    rows = [_row(sku=f"A-{i}") for i in range(4)]
    report, store = ingest(DOCUMENTS[name](rows), name, limits=FeedLimits(max_items=3))
    assert_feed_error(report, store, ErrorCode.TOO_MANY_ITEMS)
    # At the cap exactly, the feed is fine.
    report, store = ingest(DOCUMENTS[name](rows[:3]), name, limits=FeedLimits(max_items=3))
    assert report.feed_error is None
    assert report.counts.created == 3


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_an_item_larger_than_max_item_bytes(name: str) -> None:
    big = _row(description="d" * 3000)
    report, store = ingest(DOCUMENTS[name]([_row(), big]), name, limits=FeedLimits(max_item_bytes=2000))
    assert_feed_error(report, store, ErrorCode.ITEM_TOO_LARGE)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_field_longer_than_max_field_chars(name: str) -> None:
    limits = FeedLimits(max_field_chars=1000)
    report, store = ingest(DOCUMENTS[name]([_row(description="d" * 1001)]), name, limits=limits)
    assert_feed_error(report, store, ErrorCode.FIELD_TOO_LARGE)
    # At the cap, the field is the contract's business (here: a valid description).
    report, store = ingest(DOCUMENTS[name]([_row(description="d" * 1000)]), name, limits=limits)
    assert report.feed_error is None


@pytest.mark.parametrize("name", ["json", "jsonl"])
def test_a_json_number_longer_than_max_number_chars(name: str) -> None:
    items = [_item(quantity="1" * 41)]
    document = _json_feed(items) if name == "json" else _jsonl(items)
    report, store = ingest(document, name, limits=FeedLimits(max_number_chars=40))
    assert_feed_error(report, store, ErrorCode.NUMBER_TOO_LONG)
    report, store = ingest(
        _json_feed([_item(price="0." + "0" * 39)]), "json", limits=FeedLimits(max_number_chars=40)
    )
    assert_feed_error(report, store, ErrorCode.NUMBER_TOO_LONG)


@pytest.mark.parametrize("name", ["csv", "xml"])
def test_a_long_number_in_a_textual_format_is_judged_by_the_field_rules(name: str) -> None:
    # CSV and XML carry numbers as text, converted by the validator through Decimal
    # (linear, range checked first), so length is no hazard there: the field's own
    # rules answer, per item (ADR 0005).
    report, _ = ingest(
        DOCUMENTS[name]([_row(quantity="1" * 41)]), name, limits=FeedLimits(max_number_chars=40)
    )
    assert report.feed_error is None
    assert [(e.field, e.code) for e in report.errors] == [("quantity", ErrorCode.RANGE)]


@pytest.mark.parametrize("name", ["json", "jsonl"])
def test_a_kept_value_nested_deeper_than_max_depth_in_lenient_mode(name: str) -> None:
    deep = "[" * 5 + "1" + "]" * 5
    items = [_item(unknown=deep)]
    document = _json_feed(items) if name == "json" else _jsonl(items)
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(
                id=PARTNER,
                name="Acme",
                created_at=clock.now(),
                policy=ValidationPolicy(mode=Mode.LENIENT),
            )
        )
        uow.commit()
    use_case = IngestFeed(
        store.unit_of_work, BUILT_IN, clock, SequentialIds(), limits=FeedLimits(max_depth=4)
    )
    report = use_case(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(document), format=name))
    assert_feed_error(report, store, ErrorCode.TOO_DEEP)


def test_an_xml_element_deeper_than_max_depth() -> None:
    nested = b"<product><dimensions>" + b"<a>" * 4 + b"</a>" * 4 + b"</dimensions></product>"
    report, store = ingest(xml(nested), "xml", limits=FeedLimits(max_depth=4))
    assert_feed_error(report, store, ErrorCode.TOO_DEEP)
    fits = b"<product><dimensions>" + b"<a>" * 3 + b"</a>" * 3 + b"</dimensions></product>"
    report, _ = ingest(xml(fits), "xml", limits=FeedLimits(max_depth=4))
    assert report.feed_error is None


# --- XML bombs are refused before anything expands -----------------------------------

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'.encode() for n in range(1, 10)
    )
    + b"]><catalog><product><name>&lol9;</name></product></catalog>"
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><catalog><product><name>'
    + b"&a;" * 10_000
    + b"</name></product></catalog>"
)


@pytest.mark.parametrize("bomb", [LAUGHS, QUADRATIC], ids=["billion laughs", "quadratic blowup"])
def test_an_entity_bomb_is_refused_without_expanding(bomb: bytes) -> None:
    tracemalloc.start()
    started = time.process_time()
    try:
        report, store = ingest(bomb, "xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - started < 1.0  # CPU time: bounded work, whatever the machine's load
    assert peak < 5 * len(bomb) + 2_000_000, f"{peak} bytes: the entities were expanded"
    assert_feed_error(report, store, ErrorCode.FORBIDDEN_MARKUP)


def test_a_huge_text_node_is_refused_before_it_is_held_whole() -> None:
    # expat hands text over only at the next tag: without a byte budget, 20 MB of text
    # would sit in memory before any size check ran.
    body = b"<catalog><product><description>" + b"x" * 20_000_000 + b"</description></product></catalog>"
    tracemalloc.start()
    try:
        report, store = ingest(body, "xml", limits=FeedLimits(max_item_bytes=100_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_feed_error(report, store, ErrorCode.ITEM_TOO_LARGE)
    assert peak < len(body) + 3_000_000, f"{peak} bytes held for a 100 kB item cap"


# --- truncation, at every cut -------------------------------------------------------------


@DECODERS
@settings(max_examples=examples(30))
@given(data=st.data())
def test_a_json_document_cut_anywhere_is_malformed(registry: FormatRegistry, data: st.DataObject) -> None:
    version = data.draw(st.sampled_from([1, 2]))
    body = registry.get("json", version).render(data.draw(feeds(version, max_size=3)))
    complete = len(body.rstrip())
    for cut in sorted(set(data.draw(st.lists(st.integers(0, complete - 1), min_size=1, max_size=25)))):
        report, store = ingest(body[:cut], "json", version=version, registry=registry)
        assert_feed_error(report, store, ErrorCode.MALFORMED)


@pytest.mark.parametrize("name", ["jsonl", "csv", "xml"])
@settings(max_examples=examples(20))
@given(data=st.data())
def test_other_documents_cut_anywhere_give_a_report_never_an_exception(
    name: str, data: st.DataObject
) -> None:
    version = data.draw(st.sampled_from([1, 2]))
    feed = data.draw(feeds(version, max_size=3).filter(bool))
    body = BUILT_IN.get(name, version).render(feed)
    for cut in sorted(set(data.draw(st.lists(st.integers(0, len(body) - 1), min_size=1, max_size=25)))):
        report, _ = ingest(body[:cut], name, version=version)
        # A line-based document cut at a line break is a shorter, valid document.
        if report.feed_error is None:
            # XML is complete only when nothing but the trailing whitespace was cut.
            assert name != "xml" or not body[cut:].strip(), "an XML document cut short cannot be complete"
            assert report.counts.received <= len(feed)
        else:
            # A CSV header cut short lacks the columns after the cut: said once, for the header.
            codes = (ErrorCode.MALFORMED, ErrorCode.ENCODING, ErrorCode.MISSING_COLUMN)
            assert report.feed_error.code in codes, report.feed_error


def test_a_utf8_bom_is_fine_everywhere() -> None:
    bom = codecs.BOM_UTF8
    for name, body in (
        ("json", bom + _json_feed([ITEM])),
        ("jsonl", bom + ITEM + b"\n"),
        ("csv", bom + CSV_HEADER + CSV_ROW),
        ("xml", bom + xml(XML_ITEM)),
    ):
        report, _ = ingest(body, name)
        assert report.feed_error is None, (name, report.feed_error)
        assert report.counts.created == 1, name
