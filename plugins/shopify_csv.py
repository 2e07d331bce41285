"""Shopify's product CSV export (`shopify-csv`): one row per variant, grouped by `Handle`.

A product's first row carries its product-level columns (Title, Body (HTML),
Vendor, Tags, the option names, its first Image Src) and its first variant;
the rows after it with the same Handle carry only variant columns (Option1
Value, Variant SKU, Variant Price, ...) and, often, one more image. A row with
the same Handle and no variant (Image Src and Image Position only) is an extra
image of the product, not an item. Every variant becomes one canonical
product, with its product's columns from the first row: reading needs that one
row besides the current one, so memory stays bounded.

The export carries no currency: the partner's currency setting supplies it,
and a partner without one gets the feed error `missing_setting`. Of Variant
Price and Variant Compare At Price, the canonical price is the regular price
and the sale price the reduced one (never above it, ADR 0016): a compare-at
price above the variant price is the price the discount is shown against, so
it becomes `price` and the variant price `sale_price` (a sale with no window);
a compare-at price at or below the variant price is ignored, as Shopify's
storefront ignores it. The table is in docs/foreign-formats.md and in the contract.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, BinaryIO, Final

import attrs

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_source import FeedContext, FormatMapping, MappedAttribute
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, Location
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._csv_lines import delimited_rows

__all__ = ["MAPPING", "ShopifyCsvFeed", "partner_ingest_register_formats"]

HANDLE: Final = "Handle"
DEFAULT_VARIANT: Final = "Default Title"
"""Option1 Value of a product's only variant (Shopify's own name for "no options")."""
_OPTIONS: Final = (
    ("Option1 Name", "Option1 Value"),
    ("Option2 Name", "Option2 Value"),
    ("Option3 Name", "Option3 Value"),
)
_VARIANT_PREFIXES: Final = ("Variant ", "Price / ", "Compare At Price / ", "Included / ")
_VARIANT_COLUMNS: Final = frozenset(
    {"Option1 Value", "Option2 Value", "Option3 Value", "Option1 Linked To", "Option2 Linked To",
     "Option3 Linked To", "Cost per item"}
)  # fmt: skip
_THOUSANDS: Final = re.compile(r"\s*[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?\s*")
_MAPPED: Final = frozenset(
    {HANDLE, "Title", "Body (HTML)", "Vendor", "Variant SKU", "Variant Inventory Qty", "Variant Price",
     "Variant Compare At Price", "Variant Barcode", "Image Src", "Variant Image",
     "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value"}
)  # fmt: skip
"""Columns read into canonical fields, or read for the grouping (options, image rows): not extra."""
_SOURCES: Final = {
    "sku": "Variant SKU",
    "name": "Title",
    "description": "Body (HTML)",
    "brand": "Vendor",
    "quantity": "Variant Inventory Qty",
    "price": "Variant Price",
    "sale_price": "Variant Price",
    "gtin": "Variant Barcode",
    "image_url": "Image Src",
}
_RENDERED: Final = (
    HANDLE, "Title", "Body (HTML)", "Vendor", "Option1 Name", "Option1 Value", "Variant SKU",
    "Variant Inventory Qty", "Variant Price", "Variant Compare At Price", "Variant Barcode", "Image Src",
)  # fmt: skip


def _variant_level(column: str) -> bool:
    return column in _VARIANT_COLUMNS or column.startswith(_VARIANT_PREFIXES)


@attrs.frozen
class ShopifyCsvFeed:
    """Shopify's product CSV export in one contract version, read for one partner's currency."""

    version: int
    context: FeedContext | None = None
    """The partner whose feed is read: its currency is the feed's."""
    name: str = "shopify-csv"
    media_types: tuple[str, ...] = ("text/vnd.shopify.products+csv",)
    textual: bool = True

    def for_partner(self, context: FeedContext) -> ShopifyCsvFeed:
        """This format reading `context`'s partner's feeds."""
        return attrs.evolve(self, context=context)

    @property
    def mapping(self) -> FormatMapping:
        """Shopify column -> canonical field."""
        return MAPPING

    def sample(self) -> bytes:
        """An export written from Shopify's column reference, with the edge cases partners send."""
        return resources.files(__package__).joinpath("samples/shopify-csv.csv").read_bytes()

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Variant rows as items, each marked with its line and the document's columns."""
        currency = self.context.currency if self.context is not None else None
        if currency is None:
            partner = f"partner {self.context.partner_id!r}" if self.context is not None else "the partner"
            raise MalformedFeedError(
                ErrorCode.MISSING_SETTING,
                f"a Shopify product export carries no currency, and {partner} has no currency setting: "
                'set it first (PATCH /admin/partners/{id} with {"currency": "USD"}, or '
                "`partner-ingest partners update <id> --currency USD`)",
            )
        rows = delimited_rows(stream, limits, delimiter=",", kind="Shopify CSV")
        _, header = next(rows)
        header = [name.strip() for name in header]
        if "" in header or len(set(header)) != len(header):
            raise MalformedFeedError(
                ErrorCode.MALFORMED, "line 1: column names must be unique and not empty", Location(line=1)
            )
        if HANDLE not in header:
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                "line 1: a Shopify product export has a Handle column (is this Shopify's product CSV?)",
                Location(line=1),
            )
        columns = {name: position for position, name in enumerate(header, 1)}
        product_columns = [name for name in header if not _variant_level(name)]
        variant_columns = [name for name in header if _variant_level(name)]
        handle_at = header.index(HANDLE)
        convert = _Converter("sale_price" in contract_for(self.version).field_names, currency)
        first: dict[str, str] = {}
        handle: str | None = None
        for line, row in rows:
            if not any(row):
                continue  # a row of empty cells, as spreadsheets leave them
            cells = dict(zip(header, row, strict=True))
            if row[handle_at] != handle or handle is None:
                handle, first = row[handle_at], cells
            elif not any(cells[name] for name in variant_columns):
                continue  # one more image of the product, no variant
            yield convert.item(first, cells, product_columns, variant_columns), (line, columns)

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Line of the variant's row and column of the field's source (1-based)."""
        line, columns = marker if isinstance(marker, tuple) else (None, {})
        column = None
        if field and isinstance(columns, Mapping):
            column = columns.get(_SOURCES.get(field, field))
        return Location(line=line if isinstance(line, int) else None, column=column)

    def render(self, products: Iterable[Product]) -> bytes:
        """One single-variant product per canonical product, its SKU as its Handle.

        What the export has no column for (manufacturer, dimensions, a sale window, the
        currency) is left out; a sale price becomes the variant price under a compare-at price.
        """
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_RENDERED)
        v2 = "sale_price" in contract_for(self.version).field_names
        for p in products:
            price, compare_at = str(p.price), ""
            if v2 and p.sale_price is not None and p.sale_price < p.price:
                price, compare_at = str(p.sale_price), str(p.price)
            brand = p.brand if v2 and p.brand is not None else ""
            writer.writerow(
                [p.sku, p.name, p.description or "", brand, "Title", DEFAULT_VARIANT, p.sku, p.quantity, price,
                 compare_at, p.gtin or "", p.image_url or ""]
            )  # fmt: skip
        return out.getvalue().encode("utf-8")


@attrs.frozen
class _Converter:
    """One variant's canonical item, from its product's first row and its own."""

    v2: bool
    currency: str

    def item(
        self,
        first: dict[str, str],
        cells: dict[str, str],
        product_columns: list[str],
        variant_columns: list[str],
    ) -> dict[str, Any]:
        item: dict[str, Any] = {"currency": self.currency}
        title = first.get("Title")
        values = [cells.get(value, "") for _, value in _OPTIONS]
        options = [value for value in values if value]
        if title:
            if options and options != [DEFAULT_VARIANT]:
                title = f"{title} - {' / '.join(options)}"
            item["name"] = title
        sku = cells.get("Variant SKU")
        if not sku and options == [DEFAULT_VARIANT]:
            sku = first.get(HANDLE)  # a product's only variant: its handle names it
        if sku:
            item["sku"] = sku
        for field, column in (("description", "Body (HTML)"), ("image_url", "Image Src")):
            value = first.get(column)
            if value:
                item[field] = value
        image = cells.get("Variant Image")
        if image:
            item["image_url"] = image
        vendor = first.get("Vendor")
        if vendor:
            item["brand" if self.v2 else "Vendor"] = vendor
        value = cells.get("Variant Inventory Qty")
        if value:
            item["quantity"] = value
        value = cells.get("Variant Barcode")
        if value:
            item["gtin"] = value
        self._prices(cells, item)
        for column in product_columns:
            value = first[column]
            if value and column not in _MAPPED:
                item.setdefault(column, value)
        for column in variant_columns:
            value = cells[column]
            if value and column not in _MAPPED:
                item.setdefault(column, value)
        return item

    def _prices(self, cells: dict[str, str], item: dict[str, Any]) -> None:
        price = _amount(cells.get("Variant Price", ""))
        compare_at = _amount(cells.get("Variant Compare At Price", ""))
        if price:
            item["price"] = price
        if not compare_at:
            return
        if not self.v2:
            item["Variant Compare At Price"] = compare_at
            return
        try:
            on_sale = bool(price) and Decimal(compare_at) > Decimal(price)
        except InvalidOperation:  # the validator names what is wrong with either
            on_sale = False
        if on_sale:
            item["price"], item["sale_price"] = compare_at, price


def _amount(text: str) -> str:
    """A price as written, its thousands separators (1,299.00) dropped."""
    if "," in text and _THOUSANDS.fullmatch(text):
        return text.replace(",", "").strip()
    return text


def _attribute(source: str, fields: Iterable[str], note: str = "") -> MappedAttribute:
    return MappedAttribute(source, tuple(fields), note)


MAPPING: Final = FormatMapping(
    specification="Shopify product CSV (help.shopify.com/en/manual/products/import-export/using-csv)",
    attributes=(
        _attribute(
            "Handle",
            ["sku"],
            "groups a product's rows; the sku of a product's only variant (Option1 Value 'Default Title') "
            "when it has no Variant SKU",
        ),
        _attribute(
            "Variant SKU", ["sku"], "a variant without one (and not its product's only one) is rejected"
        ),
        _attribute(
            "Title, Option1-3 Value",
            ["name"],
            "the product's title, then ' - ' and the variant's option values ('Shirt - Red / M'); "
            "'Default Title' adds nothing",
        ),
        _attribute("Body (HTML)", ["description"], "as written, markup included"),
        _attribute("Vendor", ["brand"], "version 2; in version 1 an unknown field"),
        _attribute(
            "Variant Price",
            ["price", "sale_price"],
            "the price the customer pays: price, or sale_price (version 2) under a higher compare-at price",
        ),
        _attribute(
            "Variant Compare At Price",
            ["price"],
            "version 2: above the variant price it is the regular price (the variant price becomes the "
            "sale price, with no window); at or below it, ignored as Shopify ignores it; version 1: an unknown field",
        ),
        _attribute("Variant Inventory Qty", ["quantity"], "required: a variant without it is rejected"),
        _attribute("Variant Barcode", ["gtin"], "with a valid GS1 check digit"),
        _attribute(
            "Variant Image, Image Src", ["image_url"], "the variant's image, else its product's first"
        ),
        _attribute(
            "(the partner's currency setting)",
            ["currency"],
            "the export has no currency; without the setting the feed is refused (missing_setting)",
        ),
        _attribute(
            "Image Src, Image Position, Image Alt Text on later rows",
            [],
            "further images of the product: not carried; a row with only these is no item",
        ),
        _attribute(
            "Type, Tags, Published, Status, Variant Grams, Variant Inventory Policy, Price / <market>, ...",
            [],
            "no canonical field: kept in extra under the column's name (lenient) or reported (strict); "
            "a product-level column is given to each of its variants",
        ),
    ),
    unmapped="kept in extra under the column's name (lenient) or reported as unknown_field (strict), "
    "exactly as for the built-in formats",
    settings=("currency",),
)


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """shopify-csv, in versions 1 and 2."""
    for version in (1, 2):
        register(ShopifyCsvFeed(version))
