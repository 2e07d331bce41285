"""The canonical product record every feed format is normalized into.

Two shapes of the same record live here, on purpose:

- `Product`, a frozen attrs class: what embedders build, read and compare.
- `ProductRow`, a plain tuple in `PRODUCT_COLUMNS` order holding only
  storage-ready values (str, int, None, bytes). The ingest hot path builds rows
  directly, because building a 16-field attrs instance per item would cost a
  fifth of the whole per-item budget (ADR 0007); `Product.from_row` and
  `Product.to_row` convert losslessly between the two, and a property test
  holds them to it. Code that reads one value of a row names its position
  (`SKU`, `EXTRA`, ...): module constants, so the hot loop indexes a plain tuple.

Which import wrote a stored product (`Product.feed_id`) is not a column of the
row: it is the same for every row of a write, so the store takes it once per
batch (`ProductRepository.upsert(rows, feed_id=...)`), and the validator that
builds rows stays shared by every feed of a partner (ADR 0033).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final, TypeAlias

import attrs

from . import jsontext

__all__ = [
    "BRAND",
    "CURRENCY",
    "DEPTH",
    "DESCRIPTION",
    "DIMENSION_UNIT",
    "DIMENSION_UNITS",
    "EXTRA",
    "GTIN",
    "HEIGHT",
    "IMAGE_URL",
    "MANUFACTURER",
    "NAME",
    "PARTNER_ID",
    "PRICE",
    "PRODUCT_COLUMNS",
    "QUANTITY",
    "SALE_ENDS_AT",
    "SALE_PRICE",
    "SALE_STARTS_AT",
    "SKU",
    "WIDTH",
    "Dimensions",
    "JsonValue",
    "Product",
    "ProductRow",
    "encode_extra",
]

JsonValue: TypeAlias = "str | int | float | bool | Decimal | list[JsonValue] | dict[str, JsonValue] | None"

DIMENSION_UNITS: Final = ("mm", "cm", "m", "in")

PRODUCT_COLUMNS: Final = (
    "partner_id",
    "sku",
    "name",
    "price",
    "currency",
    "quantity",
    "brand",
    "manufacturer",
    "gtin",
    "description",
    "image_url",
    "width",
    "height",
    "depth",
    "dimension_unit",
    "sale_price",
    "sale_starts_at",
    "sale_ends_at",
    "extra",
)
"""Column order of a `ProductRow`; the storage adapters use the same names."""

# The position of each column in a `ProductRow` (row[SKU], not row[1]); a test holds them to
# `PRODUCT_COLUMNS`.
PARTNER_ID: Final = 0
SKU: Final = 1
NAME: Final = 2
PRICE: Final = 3
CURRENCY: Final = 4
QUANTITY: Final = 5
BRAND: Final = 6
MANUFACTURER: Final = 7
GTIN: Final = 8
DESCRIPTION: Final = 9
IMAGE_URL: Final = 10
WIDTH: Final = 11
HEIGHT: Final = 12
DEPTH: Final = 13
DIMENSION_UNIT: Final = 14
SALE_PRICE: Final = 15
SALE_STARTS_AT: Final = 16
SALE_ENDS_AT: Final = 17
EXTRA: Final = 18

# partner_id, sku, name, price, currency, quantity, brand, manufacturer, gtin,
# description, image_url, width, height, depth, dimension_unit, sale_price,
# sale_starts_at, sale_ends_at, extra
ProductRow: TypeAlias = tuple[
    str, str, str, str, str, int,
    str | None, str | None, str | None, str | None, str | None,
    str | None, str | None, str | None, str | None,
    str | None, str | None, str | None, str | None,
]  # fmt: skip


@attrs.frozen
class Dimensions:
    """Physical size of a product; every length is positive, in one unit."""

    width: Decimal
    height: Decimal
    depth: Decimal
    unit: str


@attrs.frozen
class Product:
    """One partner's product as the platform stores it, whatever format it came in."""

    partner_id: str
    sku: str
    name: str
    price: Decimal
    currency: str
    quantity: int
    brand: str | None = None
    manufacturer: str | None = None
    gtin: str | None = None
    description: str | None = None
    image_url: str | None = None
    dimensions: Dimensions | None = None
    sale_price: Decimal | None = None
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    extra: Mapping[str, JsonValue] = attrs.field(factory=dict)
    """Fields the contract does not know yet, kept verbatim (lenient mode, scenario I2)."""
    feed_id: str | None = attrs.field(default=None, eq=False)
    """The import that wrote the stored version (ADR 0033); None for a product not read from a
    store, or stored before imports were recorded. Provenance, not content: two products with
    the same values are equal whichever import wrote them, as the upsert counts them unchanged."""

    def price_at(self, at: datetime) -> Decimal:
        """The effective price at the instant `at` (ADR 0016): the sale price inside its window,
        else the price. A window open at one end is open that way (no start: on sale until
        its end; no end: from its start on); the start is inside the window, the end is not.
        `at` must carry its offset, like the stored instants."""
        if self.sale_price is None:
            return self.price
        if self.sale_starts_at is not None and at < self.sale_starts_at:
            return self.price
        if self.sale_ends_at is not None and at >= self.sale_ends_at:
            return self.price
        return self.sale_price

    @classmethod
    def from_row(cls, row: ProductRow, *, feed_id: str | None = None) -> Product:
        """Rebuild the typed record from its storage row (and the import that wrote it)."""
        (partner_id, sku, name, price, currency, quantity, brand, manufacturer, gtin,
         description, image_url, width, height, depth, unit, sale_price,
         sale_starts_at, sale_ends_at, extra) = row  # fmt: skip
        dimensions = None
        if width is not None and height is not None and depth is not None and unit is not None:
            dimensions = Dimensions(Decimal(width), Decimal(height), Decimal(depth), unit)
        return cls(
            partner_id=partner_id,
            sku=sku,
            name=name,
            price=Decimal(price),
            currency=currency,
            quantity=quantity,
            brand=brand,
            manufacturer=manufacturer,
            gtin=gtin,
            description=description,
            image_url=image_url,
            dimensions=dimensions,
            sale_price=None if sale_price is None else Decimal(sale_price),
            sale_starts_at=None if sale_starts_at is None else datetime.fromisoformat(sale_starts_at),
            sale_ends_at=None if sale_ends_at is None else datetime.fromisoformat(sale_ends_at),
            extra={} if extra is None else json.loads(extra, parse_float=Decimal),
            feed_id=feed_id,
        )

    def to_row(self) -> ProductRow:
        """The storage row of this product (its values: `feed_id` is the write's, not the row's)."""
        dims = self.dimensions
        return (
            self.partner_id,
            self.sku,
            self.name,
            str(self.price),
            self.currency,
            self.quantity,
            self.brand,
            self.manufacturer,
            self.gtin,
            self.description,
            self.image_url,
            None if dims is None else str(dims.width),
            None if dims is None else str(dims.height),
            None if dims is None else str(dims.depth),
            None if dims is None else dims.unit,
            None if self.sale_price is None else str(self.sale_price),
            None if self.sale_starts_at is None else self.sale_starts_at.isoformat(),
            None if self.sale_ends_at is None else self.sale_ends_at.isoformat(),
            encode_extra(self.extra),
        )


def encode_extra(extra: Mapping[str, JsonValue]) -> str | None:
    """Canonical JSON text of the unknown fields (sorted keys), None when there are none."""
    if not extra:
        return None
    return jsontext.dumps(extra, sort_keys=True)
