"""Built-in JSON formats: `json` documents ({"products": [...]}) and `jsonl` (JSON Lines).

json v1 carries the flat fields; json v2 adds brand, manufacturer, nested
dimensions and the sale window. jsonl holds one product per line and is the
format for the largest feeds: every line is decoded on its own, at full speed,
in bounded memory.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import attrs

from partner_ingest.domain.model import jsontext
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import Location
from partner_ingest.domain.model.rules import Kind, contract_for
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._items import product_item
from ._json_stream import JsonDecoder, read_document_items, read_lines_items

__all__ = ["JsonFeed", "JsonLinesFeed", "partner_ingest_register_formats"]


def _decoder(limits: FeedLimits, version: int, prefer_msgspec: bool) -> JsonDecoder:
    return JsonDecoder(limits, prefer_msgspec=prefer_msgspec, nested=_nested(version))


@functools.lru_cache(maxsize=16)
def _nested(version: int) -> tuple[str, ...]:
    # The version's object fields (dimensions) make the repeated-name check cheap for valid items.
    return tuple(rule.name for rule in contract_for(version).fields if rule.kind is Kind.OBJECT)


def _pointer_part(field: str) -> str:
    # RFC 6901 escaping, then dots of nested fields become path separators.
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in field.split("."))


@attrs.frozen
class JsonFeed:
    """A JSON document: `{"products": [item, ...]}` (other top-level members ignored)."""

    version: int
    prefer_msgspec: bool = True
    name: str = "json"
    media_types: tuple[str, ...] = ("application/json",)
    file_extensions: tuple[str, ...] = (".json",)
    textual: bool = False

    def decoder(self, limits: FeedLimits) -> JsonDecoder:
        """The decoder `parse` reads with."""
        return _decoder(limits, self.version, self.prefer_msgspec)

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Items with the byte offset each starts at."""
        return read_document_items(stream, limits, self.decoder(limits))

    def locate(self, index: int, marker: object, field: str) -> Location:
        """JSON Pointer of the field, and the item's byte offset."""
        pointer = f"/products/{index}"
        if field:
            pointer += "/" + _pointer_part(field)
        return Location(pointer=pointer, offset=marker if isinstance(marker, int) else None)

    def render(self, products: Iterable[Product]) -> bytes:
        """`{"products": [...]}`, one item per line for readable examples."""
        items = ",\n".join(jsontext.dumps(product_item(p, self.version)) for p in products)
        return ('{"products": [\n' + items + "\n]}\n").encode()


@attrs.frozen
class JsonLinesFeed:
    """JSON Lines: one item object per line, blank lines ignored."""

    version: int
    prefer_msgspec: bool = True
    name: str = "jsonl"
    media_types: tuple[str, ...] = (
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
    )
    file_extensions: tuple[str, ...] = (".jsonl", ".ndjson")
    textual: bool = False

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Items with their line numbers."""
        return read_lines_items(stream, limits, _decoder(limits, self.version, self.prefer_msgspec))

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Line of the item, and the JSON Pointer of the field within it."""
        line = marker if isinstance(marker, int) else None
        return Location(pointer="/" + _pointer_part(field) if field else "", line=line)

    def render(self, products: Iterable[Product]) -> bytes:
        """One compact JSON object per line."""
        return "".join(jsontext.dumps(product_item(p, self.version)) + "\n" for p in products).encode()


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """json and jsonl, in versions 1 and 2."""
    for version in (1, 2):
        register(JsonFeed(version))
        register(JsonLinesFeed(version))
