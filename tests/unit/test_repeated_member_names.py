"""A member name repeated in one JSON object is an error of that item, never "last one wins".

`{"sku": "A", "sku": "B"}` is valid JSON syntax whose meaning RFC 8259 leaves
open; taking the last value would write a product the partner may not have
meant. Both decoders (msgspec and the standard library's), both JSON formats and
every read path of the document reader (a batch of items, an item read on its
own) reject the item with `duplicate_key` and the JSON Pointer of the name,
and the other items land.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_values, raw_items

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import (
    FeedLimits,
    IngestReport,
    Mode,
    Partner,
    ValidationPolicy,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import FormatRegistry, load_formats
from partner_ingest.plugins._json_decoder import JsonDecoder
from partner_ingest.plugins._json_names import members, members_at_least
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed

PARTNER = "acme"
BUILT_IN = load_formats(entry_points=False)
STDLIB = FormatRegistry()
for _version in (1, 2):
    STDLIB.register(JsonFeed(_version, prefer_msgspec=False), plugin="test: json on stdlib")
    STDLIB.register(JsonLinesFeed(_version, prefer_msgspec=False), plugin="test: jsonl on stdlib")
DECODERS = pytest.mark.parametrize("registry", [BUILT_IN, STDLIB], ids=["msgspec", "stdlib"])
MODES = pytest.mark.parametrize("mode", [Mode.STRICT, Mode.LENIENT])


def item(sku: str, **more: str) -> str:
    members = [f'"sku":"{sku}"', '"name":"Mug"', '"price":9.5', '"currency":"EUR"', '"quantity":3']
    return "{" + ",".join(members + [f'"{k}":{v}' for k, v in more.items()]) + "}"


REPEATED_SKU = '{"sku":"B-1","name":"Mug","price":9.5,"currency":"EUR","quantity":3,"sku":"B-2"}'


def ingest(
    body: str, fmt: str, registry: Any, *, mode: Mode = Mode.STRICT, limits: FeedLimits | None = None
) -> tuple[IngestReport, InMemoryStore]:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(id=PARTNER, name="Acme", created_at=clock.now(), policy=ValidationPolicy(mode=mode))
        )
        uow.commit()
    use_case = IngestFeed(store.unit_of_work, registry, clock, SequentialIds(), limits=limits)
    report = use_case(
        FeedSubmission(
            partner_id=PARTNER,
            body=io.BytesIO(body.encode()),
            format=fmt,
            version=2,
        )
    )
    return report, store


def skus(store: InMemoryStore) -> set[str]:
    return {sku for _, sku in store.tables.products}


def only_error(report: IngestReport) -> dict[str, Any]:
    assert report.feed_error is None, report.feed_error
    assert len(report.errors) == 1, report.to_json()
    return report.errors[0].to_json()


@DECODERS
@MODES
def test_a_repeated_sku_in_a_json_document_rejects_that_item_with_its_pointer(
    registry: Any, mode: Mode
) -> None:
    body = '{"products": [' + ",".join([item("A-1"), item("A-2"), item("A-3"), REPEATED_SKU]) + "]}"
    report, store = ingest(body, "json", registry, mode=mode)
    error = only_error(report)
    assert error["code"] == "duplicate_key"
    assert error["field"] == "sku"
    assert error["location"]["pointer"] == "/products/3/sku"
    assert "2 times" in error["message"]
    assert report.counts.created == 3
    assert report.counts.rejected == 1
    assert skus(store) == {"A-1", "A-2", "A-3"}, "neither SKU of the item is written"


@DECODERS
def test_a_repeated_name_in_an_item_read_on_its_own_is_found_too(registry: Any) -> None:
    # Strings full of "},{" defeat the batch and the boundary guesses, so the reader
    # decodes each item alone (and, past its guesses, with the exact decoder).
    tricky = '{"description":"' + "},{" * 20 + '",'
    items = [tricky + item("A-1")[1:], tricky + REPEATED_SKU[1:], tricky + item("A-3")[1:]]
    body = '{"products": [' + ",".join(items) + "]}"
    report, store = ingest(body, "json", registry, limits=FeedLimits(max_item_bytes=200))
    error = only_error(report)
    assert (error["code"], error["location"]["pointer"]) == ("duplicate_key", "/products/1/sku")
    assert isinstance(error["location"]["offset"], int), "the item was read on its own"
    assert skus(store) == {"A-1", "A-3"}


@DECODERS
@MODES
def test_a_repeated_sku_in_a_json_lines_feed_rejects_that_line(registry: Any, mode: Mode) -> None:
    body = "\n".join([item("A-1"), REPEATED_SKU, item("A-3")]) + "\n"
    report, store = ingest(body, "jsonl", registry, mode=mode)
    error = only_error(report)
    assert error["code"] == "duplicate_key"
    assert error["location"] == {"pointer": "/sku", "line": 2}
    assert skus(store) == {"A-1", "A-3"}


@DECODERS
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_repeated_name_inside_dimensions_is_located_there(registry: Any, fmt: str) -> None:
    dims = '{"width":1,"height":2,"depth":3,"unit":"cm","width":4}'
    body = item("A-1", dimensions=dims)
    if fmt == "json":
        body = '{"products": [' + body + "]}"
    report, store = ingest(body, fmt, registry)
    error = only_error(report)
    assert (error["code"], error["field"]) == ("duplicate_key", "dimensions.width")
    pointer = "/products/0/dimensions/width" if fmt == "json" else "/dimensions/width"
    assert error["location"]["pointer"] == pointer
    assert skus(store) == set()


@DECODERS
@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.LENIENT])
def test_a_repeated_name_in_an_unknown_field_is_a_duplicate_key_too(registry: Any, mode: Mode) -> None:
    body = '{"products": [' + item("A-1", colour='{"r":1,"r":2}') + "]}"
    report, store = ingest(body, "json", registry, mode=mode)
    error = only_error(report)
    # Strict mode refuses the unknown field itself; lenient mode would keep it, so it says why not.
    expected = "unknown_field" if mode is Mode.STRICT else "duplicate_key"
    assert (error["code"], error["field"]) == (expected, "colour")
    assert error["location"]["pointer"] == "/products/0/colour"
    assert skus(store) == set()


@DECODERS
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_text_that_looks_like_a_member_name_is_not_a_repeat(registry: Any, fmt: str) -> None:
    # '":' inside a string makes msgspec's result look short of members: the check
    # decodes it again and finds every name once.
    body = item("A-1", description='"say \\"sku\\": twice\\":"')
    if fmt == "json":
        body = '{"products": [' + body + "]}"
    report, store = ingest(body, fmt, registry)
    assert report.errors == (), report.to_json()
    assert report.counts.created == 1
    assert store.tables.products[(PARTNER, "A-1")][9] == 'say "sku": twice":'


def _members_at_least_by_loop(items: list[object], nested: tuple[str, ...]) -> int:
    """The cheap count's definition, item by item."""
    count = 0
    for value in items:
        if value.__class__ is dict:
            count += len(value)
            for name in nested:
                member = value.get(name)
                if member.__class__ is dict:
                    count += len(member)
    return count


@given(
    items=st.lists(json_values(8) | raw_items(2), max_size=6), nested=st.sampled_from([(), ("dimensions",)])
)
def test_the_cheap_count_counts_the_items_and_their_nested_objects_only(
    items: list[object], nested: tuple[str, ...]
) -> None:
    # Not a subclass of dict, not a list's or another field's objects: those are for `members`.
    assert members_at_least(items, nested) == _members_at_least_by_loop(items, nested)
    assert members_at_least(items, nested) <= members(items)


def test_a_repeat_after_a_batch_with_colons_in_its_text_is_still_found() -> None:
    # Once a batch's text has a colon, the decoder stops counting colons first: the names'
    # own count must then still tell a repeat, in a batch with colons in its text or not.
    decoder = JsonDecoder(FeedLimits(), nested=("dimensions",))
    with_url = b'[{"sku":"A","image_url":"https://x.example/a.jpg"}]'
    assert decoder.kept_every_name(with_url, decoder.decode_unchecked(with_url))  # type: ignore[arg-type]
    for data in (b'[{"sku":"A","sku":"B"}]', b'[{"sku":"A","note":"at 10:00","sku":"B"}]', with_url):
        values = decoder.decode_unchecked(data)
        assert decoder.kept_every_name(data, values) is (data == with_url)  # type: ignore[arg-type]
