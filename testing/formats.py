"""The format conformance kit: checks for authors of feed-format plugins, to run in their
own test suites (also under `partner_ingest.plugins.testing`, its first name).

    from partner_ingest.testing.formats import check_feed_format

    def test_my_format_meets_the_standard_checks():
        check_feed_format(MyFeed(version=1))

The helpers are plain functions that raise `AssertionError` with a readable
message, so they work under pytest (which shows the message) or any other
runner, and importing this module needs nothing beyond the library itself:
it is part of the installed package, and the package does not depend on pytest.
The built-in formats pass the same checks (tests/plugins/).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import BinaryIO, cast

import attrs

from partner_ingest.domain.model.contract import example_product
from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_source import FeedContext
from partner_ingest.domain.model.policy import FeedLimits, Mode
from partner_ingest.domain.model.product import Dimensions, Product
from partner_ingest.domain.model.report import ItemError, Location
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.plugins.registry import FormatRegistry, InvalidFormatError
from partner_ingest.ports.formats import FeedFormat, RawItem, for_partner

__all__ = [
    "RecordingStream",
    "TrickleStream",
    "assert_parses_lazily",
    "assert_round_trips",
    "check_feed_format",
    "example_products",
    "parse_all",
]


class TrickleStream(io.RawIOBase):
    """A binary stream that hands out 1 to 7 bytes per read, whatever was asked.

    Real streams (sockets, HTTP bodies) return short reads; a parser that
    assumes a read fills its buffer, or splits an item at a chunk boundary,
    fails on this one.
    """

    def __init__(self, data: bytes) -> None:
        self._bytes = bytes(data)
        self._data = memoryview(self._bytes)
        self._at = 0
        self._turn = 0

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        """A whole line (or `size` bytes of it), as any stream gives: short reads are for read()."""
        end = len(self._data)
        newline = self._bytes.find(b"\n", self._at)
        if newline >= 0:
            end = newline + 1
        if size is not None and size >= 0:
            end = min(end, self._at + size)
        line = self._bytes[self._at : end]
        self._at = end
        return line

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._turn += 1
        size = min(len(buffer), 1 + self._turn % 7, len(self._data) - self._at)
        buffer[:size] = self._data[self._at : self._at + size]
        self._at += size
        return size


class RecordingStream(io.RawIOBase):
    """A binary stream that records how many bytes it has handed out (`consumed`).

    Reads are short (at most `max_read` bytes), as a socket's are: a parser that asks for
    a megabyte gets what a network would give, so what it read before its first item is
    what it needed, not what it asked for.
    """

    def __init__(self, data: bytes, max_read: int = 8 * 1024) -> None:
        self._data = memoryview(bytes(data))
        self._max_read = max_read
        self.consumed = 0

    @property
    def size(self) -> int:
        return len(self._data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self._max_read, len(self._data) - self.consumed)
        buffer[:size] = self._data[self.consumed : self.consumed + size]
        self.consumed += size
        return size


def parse_all(
    feed_format: FeedFormat,
    document: bytes | BinaryIO | TrickleStream,
    limits: FeedLimits | None = None,
) -> list[RawItem]:
    """Every (item, marker) of a document, read to the end."""
    if isinstance(document, bytes | bytearray):
        stream: BinaryIO = io.BytesIO(document)
    else:
        # A TrickleStream is a RawIOBase: the read() and readline() parsers use, not all of BinaryIO.
        stream = cast("BinaryIO", document)
    return list(feed_format.parse(stream, limits or FeedLimits()))


def example_products(version: int, partner_id: str = "example-partner") -> list[Product]:
    """Products valid under the contract of `version` that carry what formats get wrong.

    The contract's own example (every field), a product with only the required
    fields, prices in currencies with 0 and 3 decimals, text with quotes,
    separators, markup, non-ASCII letters and line breaks, and (version 2) a
    sale window with microseconds.
    """
    contract = contract_for(version)
    known = contract.field_names
    products = [
        example_product(contract, partner_id),
        Product(partner_id=partner_id, sku="0", name="x", price=Decimal(0), currency="JPY", quantity=0),
        Product(
            partner_id=partner_id,
            sku="A.b_c-9",
            name='Crème brûlée "deluxe", 1/2 <b>&amp;</b>; a,b\\c',
            price=Decimal("1234.567"),
            currency="KWD",
            quantity=1_000_000_000,
            gtin="96385074",
            description=' Leading space.\r\nTwo lines,\ta tab; \'quotes\' "both" {braces} }}\\" </description> ]]> ',
            image_url="https://img.example.com/a%20b/c.jpg?size=2&q=x#top",
        ),
    ]
    if {"brand", "manufacturer", "dimensions", "sale_price"} <= known:
        products.append(
            Product(
                partner_id=partner_id,
                sku="SALE-1",
                name="日本の急須 (teapot) 🫖",
                price=Decimal("1000000000000.00"),
                currency="EUR",
                quantity=7,
                brand="Ōkura",
                manufacturer="Ōkura & Söhne",
                gtin="00012345600012",
                dimensions=Dimensions(Decimal("0.001"), Decimal("12"), Decimal("999999.5"), "in"),
                sale_price=Decimal("0.01"),
                sale_starts_at=datetime(2026, 11, 27, 8, 0, 0, 500_000, tzinfo=UTC),
                sale_ends_at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
            )
        )
    return products


def assert_round_trips(
    feed_format: FeedFormat, products: Sequence[Product], *, trickle: bool = False
) -> None:
    """Rendered by the format, parsed back and validated in strict mode, every product
    comes back as its own row (and `Product.from_row` as itself).

    All products must share one partner id; their `extra` must be empty (strict
    mode refuses unknown fields). With `trickle`, the document is read through a
    `TrickleStream`, so chunk boundaries fall everywhere. A format that reads for a
    partner (`for_partner`) reads for theirs, with their currency when they share one.
    """
    if not products:
        return
    partner_ids = {p.partner_id for p in products}
    assert len(partner_ids) == 1, f"round trips need one partner id, got {sorted(partner_ids)}"
    feed_format = _bound(feed_format, products)
    document = feed_format.render(products)
    assert isinstance(document, bytes), f"render() must return bytes, got {type(document).__name__}"
    validator = ItemValidator(
        contract_for(feed_format.version),
        Mode.STRICT,
        textual=feed_format.textual,
        partner_id=partner_ids.pop(),
    )
    try:
        items = parse_all(feed_format, TrickleStream(document) if trickle else document)
    except MalformedFeedError as error:
        raise AssertionError(
            f"{_label(feed_format)} cannot parse its own rendering: {error}\n{_excerpt(document)}"
        ) from error
    assert len(items) == len(products), (
        f"{_label(feed_format)} rendered {len(products)} products but parsed {len(items)} items\n{_excerpt(document)}"
    )
    for index, (product, (raw, _marker)) in enumerate(zip(products, items, strict=True)):
        result = validator.validate(raw, index)
        if isinstance(result, list):
            raise AssertionError(
                f"{_label(feed_format)}: product {index} ({product.sku!r}) does not validate after a round trip: "
                f"{_errors(result)}\nparsed item: {raw!r}\n{_excerpt(document)}"
            )
        expected = product.to_row()
        assert result == expected, (
            f"{_label(feed_format)}: product {index} ({product.sku!r}) changed in a round trip\n"
            f"  expected {expected!r}\n  got      {result!r}\nparsed item: {raw!r}"
        )
        again = Product.from_row(result)
        assert again == product, f"{_label(feed_format)}: Product.from_row gives {again!r}, not {product!r}"


def check_feed_format(feed_format: FeedFormat, *, products: Iterable[Product] | None = None) -> None:
    """The standard checks every feed format must pass.

    - It is a `FeedFormat` the registry accepts: a lowercase name, a version that
      has a contract, `type/subtype` media types, a bool `textual`.
    - `parse` is lazy (an iterator) and `locate` gives a `Location` for any field.
    - The example products (or `products`) round-trip, also read a few bytes at a time
      (a format that reads for a partner reads for theirs: see `assert_round_trips`).
    - It streams: its first item comes out before a large document is read to its end
      (`assert_parses_lazily`).
    - A document cut short anywhere yields items or raises `MalformedFeedError`,
      never another exception.
    """
    try:
        FormatRegistry().register(feed_format, plugin="check_feed_format")
    except InvalidFormatError as error:
        raise AssertionError(str(error)) from error
    chosen = list(products) if products is not None else example_products(feed_format.version)
    feed_format = _bound(feed_format, chosen)
    assert_round_trips(feed_format, chosen)
    assert_round_trips(feed_format, chosen, trickle=True)

    document = feed_format.render(chosen)
    lazy = feed_format.parse(io.BytesIO(document), FeedLimits())
    assert iter(lazy) is lazy, (
        f"{_label(feed_format)}: parse() must return an iterator, not a {type(lazy).__name__}"
    )
    for index, (_raw, marker) in enumerate(lazy):
        for field in ("", "sku", "dimensions.width"):
            location = feed_format.locate(index, marker, field)
            assert isinstance(location, Location), (
                f"{_label(feed_format)}: locate({index}, ..., {field!r}) returned {location!r}, not a Location"
            )
    assert_parses_lazily(feed_format, chosen)
    _check_truncations(feed_format, document)


LAZY_DOCUMENT_BYTES = 128 * 1024
"""A document this large is never read to its end by a format that streams: under
`LAZY_LIMITS` the built-in ones read at most one item window (16 KiB) and a short read
before their first item."""

LAZY_LIMITS = FeedLimits(max_item_bytes=16 * 1024, max_field_chars=8 * 1024)
"""Item windows far smaller than the document (the default allows 256 KiB)."""


def assert_parses_lazily(feed_format: FeedFormat, products: Sequence[Product] | None = None) -> None:
    """The format yields its first item before it has read the whole document.

    The products (the example products by default) are repeated under new SKUs until the
    rendering passes `LAZY_DOCUMENT_BYTES`, and parsed under `LAZY_LIMITS` through a
    `RecordingStream`; when the first item comes out, some of the document must still be
    unread. A format that reads the stream to its end first holds a whole feed in memory
    and cannot stream a large one.
    """
    chosen = list(products) if products is not None else example_products(feed_format.version)
    if not chosen:
        return
    feed_format = _bound(feed_format, chosen)
    rounds = LAZY_DOCUMENT_BYTES // max(1, len(feed_format.render(chosen))) + 1
    many = [attrs.evolve(p, sku=f"{p.sku}-{n}") for n in range(rounds) for p in chosen]
    document = feed_format.render(many)
    stream = RecordingStream(document)
    items = feed_format.parse(cast("BinaryIO", stream), LAZY_LIMITS)
    try:
        first = next(iter(items), None)
        assert first is not None, f"{_label(feed_format)} parsed no item from {len(many)} rendered products"
        assert stream.consumed < stream.size, (
            f"{_label(feed_format)} read the whole document ({stream.size} bytes) before yielding its "
            "first item: parse() must stream (read a chunk, yield what it holds, read on)"
        )
    finally:
        close = getattr(items, "close", None)
        if callable(close):
            close()


def _bound(feed_format: FeedFormat, products: Sequence[Product]) -> FeedFormat:
    """The format reading for the products' partner (their currency, when they share one)."""
    if not products:
        return feed_format
    currencies = {p.currency for p in products}
    currency = currencies.pop() if len(currencies) == 1 else None
    return for_partner(feed_format, FeedContext(products[0].partner_id, currency))


def _check_truncations(feed_format: FeedFormat, document: bytes) -> None:
    # Every cut for a short document, a few hundred spread over a long one.
    step = max(1, len(document) // 300)
    for cut in range(0, len(document), step):
        try:
            parse_all(feed_format, document[:cut])
        except MalformedFeedError:
            continue
        except Exception as error:
            raise AssertionError(
                f"{_label(feed_format)}: the document cut at byte {cut} raised {type(error).__name__}: {error} "
                "(only MalformedFeedError may escape parse)\n" + _excerpt(document[:cut])
            ) from error


def _label(feed_format: FeedFormat) -> str:
    return f"{feed_format.name} v{feed_format.version}"


def _errors(errors: list[ItemError]) -> str:
    return "; ".join(f"{e.code}: {e.message}" for e in errors)


def _excerpt(document: bytes, size: int = 600) -> str:
    text = document[:size].decode("utf-8", "replace")
    return f"document ({len(document)} bytes):\n{text}" + ("..." if len(document) > size else "")
