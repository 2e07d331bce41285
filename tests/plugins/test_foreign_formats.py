"""The foreign formats read their samples onto the canonical products the mapping promises,
report what they cannot read in the source's own terms and at the source's own place, and
keep the built-in formats' limits and XML hardening.

The samples are the documents `/partner/contract/example` serves
(plugins/samples/), plus an Atom feed kept here (tests/samples/gmc-atom.xml).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import (
    Dimensions,
    ErrorCode,
    FeedLimits,
    FeedStatus,
    IngestReport,
    ItemError,
    Location,
    Mode,
    Partner,
    Product,
    ValidationPolicy,
)
from partner_ingest.domain.use_cases import DescribeContract, FeedSubmission, IngestFeed, ValidateFeed
from partner_ingest.plugins import load_formats

FORMATS = load_formats()
LENIENT = ValidationPolicy(mode=Mode.LENIENT)
ATOM = (Path(__file__).parent.parent / "samples" / "gmc-atom.xml").read_bytes()


def sample(name: str) -> bytes:
    fmt: Any = FORMATS.get(name, 2)
    document: bytes = fmt.sample()
    return document


class Catalog:
    """One partner on the in-memory store, and IngestFeed over it."""

    def __init__(self, *, currency: str | None = None, mode: Mode = Mode.LENIENT, version: int = 2) -> None:
        self.store, clock = InMemoryStore(), FakeClock()
        with self.store.unit_of_work() as uow:
            uow.partners.add(
                Partner(
                    id="acme",
                    name="Acme",
                    created_at=clock.now(),
                    default_version=version,
                    currency=currency,
                    policy=ValidationPolicy(mode=mode),
                )
            )
            uow.commit()
        self.ingest = IngestFeed(self.store.unit_of_work, FORMATS, clock, SequentialIds())

    def send(self, body: bytes, fmt: str) -> IngestReport:
        return self.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(body), format=fmt))

    def products(self) -> dict[str, Product]:
        with self.store.unit_of_work(read_only=True) as uow:
            return {p.sku: p for p in uow.products.page("acme", limit=100)}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- Merchant Center ----------------------------------------------------------------------------


def test_the_rss_sample_lands_as_the_products_the_mapping_promises() -> None:
    catalog = Catalog()
    report = catalog.send(sample("gmc-xml"), "gmc-xml")
    assert (report.status, report.counts.created, report.errors) == (FeedStatus.ACCEPTED, 4, ())
    products = catalog.products()
    tv = products["TV-55-OLED"]
    # "1,299.00 USD": amount and currency in one value, thousands separator read.
    assert (tv.price, tv.currency, tv.sale_price) == (Decimal("1299.00"), "USD", Decimal("1099.00"))
    # 2026-11-27T08:00-0800/2026-11-30T23:59-0800 onto the sale window, in UTC.
    assert (tv.sale_starts_at, tv.sale_ends_at) == (moment("2026-11-27T16:00Z"), moment("2026-12-01T07:59Z"))
    assert tv.dimensions == Dimensions(Decimal(8), Decimal(35), Decimal(56), "in")
    assert tv.quantity == 1  # in_stock and no quantity: at least one
    assert (
        tv.description
        == '<p>A 55" OLED panel with <b>perfect blacks</b> & 120 Hz.</p>\n<p>Wall mount included.</p>'
    )
    assert (tv.name, tv.brand, tv.gtin, tv.image_url) == (
        'OLED TV 55" (4K, 120 Hz)',
        "Lumina",
        "8806084576132",
        "https://img.example.com/tv/oled-55.jpg",
    )
    assert tv.extra == {
        "link": "https://shop.example.com/tv/oled-55",
        "additional_image_link": [
            "https://img.example.com/tv/oled-55-side.jpg",
            "https://img.example.com/tv/oled-55-back.jpg",
        ],
        "condition": "new",
        "mpn": "LUM-OLED55-2026",
        "google_product_category": "Electronics > Video > Televisions",
        "shipping": {"country": "US", "service": "Standard", "price": "49.95 USD"},
        "shipping_weight": "22.5 kg",
    }
    tee = products["TEE-RED-S"]
    # RSS's own <title>, <link> and <description> stand in for the g: ones.
    assert (tee.name, tee.description) == (
        "Organic cotton tee - Red - S",
        "Soft, organic, fair: the tee you reach for first.",
    )
    assert tee.extra["link"] == "https://shop.example.com/tee?color=red&size=s"
    assert (tee.quantity, tee.sale_price) == (14, Decimal("19.50"))
    assert tee.sale_starts_at == moment("2026-11-30T23:00Z")
    # 30 cm, 20 cm and 2 in: mixed units become centimetres.
    assert tee.dimensions == Dimensions(Decimal(20), Decimal("5.08"), Decimal(30), "cm")
    # Three variants sharing an item_group_id: three products, the group kept.
    variants = [p for p in products.values() if p.extra.get("item_group_id") == "TEE-ORGANIC"]
    assert sorted(p.sku for p in variants) == ["TEE-BLUE-M", "TEE-RED-M", "TEE-RED-S"]
    assert (products["TEE-RED-M"].quantity, products["TEE-BLUE-M"].quantity) == (
        0,
        0,
    )  # out_of_stock, preorder


def test_the_atom_sample_gives_the_same_products_as_the_rss_one() -> None:
    rss, atom = Catalog(), Catalog()
    rss.send(sample("gmc-xml"), "gmc-xml")
    report = atom.send(ATOM, "gmc-xml")
    assert (report.status, report.counts.created) == (FeedStatus.ACCEPTED, 2)
    from_rss, from_atom = rss.products(), atom.products()
    assert from_atom == {sku: from_rss[sku] for sku in from_atom}


def test_the_tsv_sample_lands_as_the_products_the_mapping_promises() -> None:
    catalog = Catalog()
    report = catalog.send(sample("gmc-tsv"), "gmc-tsv")
    assert (report.status, report.counts.created, report.errors) == (FeedStatus.ACCEPTED, 4, ())
    products = catalog.products()
    kettle = products["KETTLE-1L"]  # the first column's header follows a byte-order mark
    assert kettle.description == 'Boils 1 l in 2 min.\tAuto shut-off.\nLimescale filter, 12" cord.'
    assert (kettle.price, kettle.currency, kettle.sale_price) == (
        Decimal("1049.00"),
        "SEK",
        Decimal("899.00"),
    )
    assert (kettle.sale_starts_at, kettle.sale_ends_at) == (
        moment("2026-11-26T23:00Z"),
        moment("2026-11-30T22:59Z"),
    )
    assert kettle.dimensions == Dimensions(Decimal(18), Decimal(24), Decimal(25), "cm")
    assert kettle.extra["shipping"] == "SE::Standard:49.00 SEK"
    assert products["SOCK-GRY-39"].quantity == 120  # the quantity column wins over "in stock"
    lamp = products["LAMP-OAK"]  # empty optional columns; a sale price without a code takes the price's
    assert (lamp.description, lamp.image_url, lamp.gtin, lamp.brand) == (None, None, None, None)
    assert (lamp.price, lamp.sale_price, lamp.quantity) == (Decimal("2450.50"), Decimal("2100.00"), 0)


def test_strict_mode_reports_the_attributes_with_no_canonical_field_where_they_are() -> None:
    report = Catalog(mode=Mode.STRICT).send(sample("gmc-xml"), "gmc-xml")
    assert report.status is FeedStatus.REJECTED
    first = [e for e in report.errors if e.index == 0]
    assert {e.field for e in first} == {
        "link", "additional_image_link", "condition", "mpn", "google_product_category", "shipping", "shipping_weight",
    }  # fmt: skip
    assert {e.code for e in first} == {ErrorCode.UNKNOWN_FIELD}
    link = next(e for e in first if e.field == "link")
    assert link.location == Location(pointer="/rss/channel/item[1]/g:link")

    tsv = Catalog(mode=Mode.STRICT).send(sample("gmc-tsv"), "gmc-tsv")
    mpn = next(e for e in tsv.errors if e.field == "mpn")
    assert (mpn.index, mpn.location) == (0, Location(line=2, column=13))


def _errors(report: IngestReport) -> dict[str, ItemError]:
    return {e.field: e for e in report.errors}


XML_ITEM = """<?xml version="1.0"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>t</title>
<item><g:id>A-1</g:id><g:title>A</g:title>{}</item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("attributes", "field", "code", "words", "pointer"),
    [
        ("<g:price>15 dollars</g:price><g:availability>in_stock</g:availability>",
         "price", ErrorCode.FORMAT, "is not an amount with its currency", "g:price"),
        ("<g:price>USD 15.00 EUR</g:price><g:availability>in_stock</g:availability>",
         "price", ErrorCode.FORMAT, "names two currencies", "g:price"),
        ("<g:price>15.00</g:price><g:availability>in_stock</g:availability>",
         "currency", ErrorCode.MISSING, "has no currency code", "g:price"),
        ("<g:price>15.00 USD</g:price><g:availability>sold out</g:availability>",
         "quantity", ErrorCode.ENUM, "is not one of in_stock, out_of_stock, preorder, backorder", "g:availability"),
        ("<g:price>15.00 USD</g:price>",
         "quantity", ErrorCode.MISSING, "is required", "g:availability"),
        ("<g:price>15.00 USD</g:price><g:quantity>many</g:quantity>",
         "quantity", ErrorCode.FORMAT, "'many' is not", "g:quantity"),
        ("<g:price>15.00 USD</g:price><g:quantity>2</g:quantity><g:sale_price>9.00 EUR</g:sale_price>",
         "sale_price", ErrorCode.RELATION, "sale_price is in EUR, price in USD", "g:sale_price"),
        ("<g:price>15.00 USD</g:price><g:quantity>2</g:quantity><g:sale_price>9.00 USD</g:sale_price>"
         "<g:sale_price_effective_date>2026-11-27T08:00/2026-11-30T23:59</g:sale_price_effective_date>",
         "sale_starts_at", ErrorCode.FORMAT, "is not an ISO 8601 interval with time zones", "g:sale_price_effective_date"),
        ("<g:price>15.00 USD</g:price><g:quantity>2</g:quantity>"
         "<g:shipping_length>20 ft</g:shipping_length><g:shipping_width>2 in</g:shipping_width>",
         "dimensions.depth", ErrorCode.FORMAT, "is not a length in in or cm", "g:shipping_length"),
    ],
)  # fmt: skip
def test_a_value_the_source_notation_cannot_carry_is_reported_in_its_terms_at_its_element(
    attributes: str, field: str, code: ErrorCode, words: str, pointer: str
) -> None:
    for mode in Mode:
        report = Catalog(mode=mode).send(XML_ITEM.format(attributes).encode(), "gmc-xml")
        error = _errors(report)[field]
        assert (error.code, error.sku) == (code, "A-1"), error
        assert words in error.message, error.message
        assert error.location == Location(pointer=f"/rss/channel/item[1]/{pointer}")


def test_a_price_without_a_code_takes_the_partners_currency() -> None:
    catalog = Catalog(currency="CHF")
    body = XML_ITEM.format("<g:price>1,250.5</g:price><g:availability>in stock</g:availability>").encode()
    assert catalog.send(body, "gmc-xml").status is FeedStatus.ACCEPTED
    stored = catalog.products()["A-1"]
    assert (stored.price, stored.currency, stored.quantity) == (Decimal("1250.5"), "CHF", 1)


def test_tsv_errors_name_the_line_and_the_column_of_the_attribute() -> None:
    body = b"id\tprice\ttitle\tavailability\r\nA-1\t15,00 EUR\tA\tin_stock\r\nB-2\t3 EUR\tB\tgone\r\n"
    report = Catalog().send(body, "gmc-tsv")
    assert [(e.index, e.field, e.location) for e in report.errors] == [
        (0, "price", Location(line=2, column=2)),
        (1, "quantity", Location(line=3, column=4)),
    ]


def test_version_1_keeps_what_it_has_no_field_for_under_the_attributes_names() -> None:
    catalog = Catalog(version=1)
    assert catalog.send(sample("gmc-tsv"), "gmc-tsv").status is FeedStatus.ACCEPTED
    kettle = catalog.products()["KETTLE-1L"]
    assert (kettle.brand, kettle.sale_price, kettle.dimensions) == (None, None, None)
    assert kettle.extra["brand"] == "Nordkok"
    assert kettle.extra["sale_price_effective_date"] == "2026-11-27T00:00+0100/2026-11-30T23:59+0100"
    assert kettle.extra["shipping_length"] == "25 cm"


# --- the built-in formats' limits and hardening -------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
         b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>&b;</g:id></item></channel></rss>',
         ErrorCode.FORBIDDEN_MARKUP),
        (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b"<rss><channel><item><g:id>&x;</g:id></item></channel></rss>",
         ErrorCode.FORBIDDEN_MARKUP),
        (b"<catalog><product/></catalog>", ErrorCode.MALFORMED),
        (b"<rss><item/></rss>", ErrorCode.MALFORMED),
        (b"<rss><channel><item><g:id>A</g:id></channel></rss>", ErrorCode.MALFORMED),
    ],
)  # fmt: skip
def test_an_xml_feed_is_hardened_like_the_built_in_one(document: bytes, code: ErrorCode) -> None:
    report = Catalog().send(document, "gmc-xml")
    assert report.status is FeedStatus.REJECTED
    assert report.feed_error is not None and report.feed_error.code is code, report.feed_error


def test_the_caps_fail_a_merchant_center_item_with_its_path() -> None:
    limits = FeedLimits(max_item_bytes=2000, max_depth=3, max_field_chars=100)
    fmt = FORMATS.get("gmc-xml", 2)
    ingest = Catalog()
    ingest.ingest = IngestFeed(
        ingest.store.unit_of_work, FORMATS, FakeClock(), SequentialIds(), limits=limits
    )
    big = XML_ITEM.format("<g:price>1 USD</g:price>" + "<g:color>x</g:color>" * 200).encode()
    deep = XML_ITEM.format("<g:a><g:b><g:c><g:d>x</g:d></g:c></g:b></g:a>").encode()
    long = XML_ITEM.format(f"<g:mpn>{'x' * 101}</g:mpn>").encode()
    atom = ATOM.replace(b"<g:mpn>LUM-OLED55-2026</g:mpn>", b"<g:mpn>" + b"y" * 101 + b"</g:mpn>")
    for document, code, pointer in [
        (big, ErrorCode.ITEM_TOO_LARGE, "/rss/channel/item[1]"),
        (deep, ErrorCode.TOO_DEEP, "/rss/channel/item[1]"),
        (long, ErrorCode.FIELD_TOO_LARGE, "/rss/channel/item[1]"),
        (atom, ErrorCode.FIELD_TOO_LARGE, "/feed/entry[1]"),
    ]:
        report = ingest.send(document, fmt.name)
        assert report.feed_error is not None, document[:80]
        assert (report.feed_error.code, report.feed_error.location) == (code, Location(pointer=pointer))


def test_delimited_feeds_keep_the_csv_caps_and_encoding_errors() -> None:
    limits = FeedLimits(max_field_chars=50, max_item_bytes=400)
    validate = ValidateFeed(FORMATS, limits=limits)
    too_long = b"id\ttitle\nA-1\t" + b"x" * 51 + b"\n"
    report = validate(too_long, format="gmc-tsv", version=2)
    assert report.feed_error is not None
    assert (report.feed_error.code, report.feed_error.location) == (
        ErrorCode.FIELD_TOO_LARGE,
        Location(line=2, column=2),
    )
    too_large = b"id\ttitle\nA-1\t" + b"x\t" * 300 + b"\n"
    report = validate(too_large, format="gmc-tsv", version=2)
    assert report.feed_error is not None and report.feed_error.code is ErrorCode.ITEM_TOO_LARGE
    latin1 = "Handle,Title\nmug,Caf\xe9 mug\n".encode("latin-1")
    report = validate(latin1, format="shopify-csv", version=2, currency="EUR")
    assert report.feed_error is not None
    assert (report.feed_error.code, report.feed_error.location) == (
        ErrorCode.ENCODING,
        Location(line=2, column=8),
    )


# --- Shopify --------------------------------------------------------------------------------------


def test_the_shopify_sample_lands_one_product_per_variant_in_the_partners_currency() -> None:
    catalog = Catalog(currency="USD")
    report = catalog.send(sample("shopify-csv"), "shopify-csv")
    # Six rows after the header: five variants and one more image of the hoodie (no item).
    assert (report.status, report.counts.received, report.counts.created) == (FeedStatus.ACCEPTED, 5, 5)
    products = catalog.products()
    moss_m, moss_l, slate_m = products["HOOD-MOSS-M"], products["HOOD-MOSS-L"], products["HOOD-SLATE-M"]
    # The product-level columns of the first row reach every variant.
    assert [p.name for p in (moss_m, moss_l, slate_m)] == [
        "Trail hoodie - Moss / M", "Trail hoodie - Moss / L", "Trail hoodie - Slate / M",
    ]  # fmt: skip
    assert {p.brand for p in (moss_m, moss_l, slate_m)} == {"Fieldwear"}
    assert {p.description for p in (moss_m, slate_m)} == {
        '<p>Brushed fleece, 100% recycled.</p>\n<p>Fits "true to size", runs long.</p>'
    }
    assert slate_m.extra["Tags"] == "fleece, outdoor, recycled"
    assert {p.currency for p in products.values()} == {"USD"}
    # Compare-at above the variant price: the regular price, the variant price on sale.
    assert (moss_m.price, moss_m.sale_price, moss_m.sale_starts_at) == (
        Decimal("79.00"),
        Decimal("59.00"),
        None,
    )
    # Compare-at equal to it, or none: no sale.
    assert (moss_l.price, moss_l.sale_price, slate_m.sale_price) == (Decimal("59.00"), None, None)
    assert (moss_m.image_url, moss_l.image_url, slate_m.image_url) == (
        "https://cdn.example.com/hoodie-moss.jpg",
        "https://cdn.example.com/hoodie-moss.jpg",
        "https://cdn.example.com/hoodie-slate.jpg",
    )
    assert (moss_m.quantity, moss_l.quantity, moss_m.gtin) == (12, 0, "4012345000009")
    bike = products["BIKE-GRAVEL"]
    assert (bike.name, bike.price, bike.sale_price) == (
        "Gravel bike, 2x11",
        Decimal("1399.00"),
        Decimal("1199.00"),
    )
    mug = products["enamel-mug"]  # a product's only variant, without a SKU: its handle
    assert (mug.name, mug.description, mug.gtin, mug.quantity) == ("Enamel mug", None, None, 48)


def test_a_shopify_feed_for_a_partner_without_a_currency_is_refused_with_a_clear_feed_error() -> None:
    catalog = Catalog()
    report = catalog.send(sample("shopify-csv"), "shopify-csv")
    assert report.status is FeedStatus.REJECTED
    assert report.feed_error is not None and report.feed_error.code is ErrorCode.MISSING_SETTING
    assert "partner 'acme' has no currency setting" in report.feed_error.message
    assert catalog.products() == {}
    report = ValidateFeed(FORMATS)(sample("shopify-csv"), format="shopify-csv", version=2)
    assert report.feed_error is not None and report.feed_error.code is ErrorCode.MISSING_SETTING


def test_shopify_errors_name_the_variants_line_and_column() -> None:
    body = (
        b"Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Qty,Variant Price,Tags\r\n"
        b"cap,Cap,Size,S,CAP-S,4,12.00,summer\r\n"
        b",,,,,,,\r\n"
        b"cap,,,M,CAP-M,,12.00,\r\n"
        b"cap,,,L,,2,12.00,\r\n"
    )
    report = Catalog(currency="EUR", mode=Mode.STRICT).send(body, "shopify-csv")
    assert [(e.index, e.field, e.code, e.location) for e in report.errors] == [
        (0, "Tags", ErrorCode.UNKNOWN_FIELD, Location(line=2, column=8)),
        (1, "quantity", ErrorCode.MISSING, Location(line=4, column=6)),
        (1, "Tags", ErrorCode.UNKNOWN_FIELD, Location(line=4, column=8)),
        (2, "sku", ErrorCode.MISSING, Location(line=5, column=5)),
        (2, "Tags", ErrorCode.UNKNOWN_FIELD, Location(line=5, column=8)),
    ]


# --- published ------------------------------------------------------------------------------------


def test_the_contract_publishes_each_mapping_and_serves_each_sample_as_the_example() -> None:
    describe = DescribeContract(FORMATS)
    document = json.loads(json.dumps(describe()))
    entries = {(f["format"], f["version"]): f for f in document["formats"]}
    for name in ("gmc-xml", "gmc-tsv", "shopify-csv"):
        mapping = entries[(name, 2)]["mapping"]
        assert mapping == FORMATS.get(name, 2).mapping.to_json()  # type: ignore[attr-defined]
        carried = {field for attribute in mapping["attributes"] for field in attribute["fields"]}
        assert {"sku", "name", "price", "currency", "quantity", "gtin"} <= carried
        assert any(not attribute["fields"] for attribute in mapping["attributes"]), "what is not carried"
    assert entries[("shopify-csv", 1)]["mapping"]["partner_settings"] == ["currency"]
    assert "mapping" not in entries[("json", 2)]
    examples = {(e["format"], e["version"]): e for e in describe.examples()}
    assert examples[("gmc-tsv", 2)]["body"].encode() == sample("gmc-tsv")
    assert examples[("shopify-csv", 2)]["partner_settings"] == ["currency"]
    assert examples[("gmc-xml", 1)]["sample"] is True
    assert "sample" not in examples[("xml", 2)]
