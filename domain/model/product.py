"""The canonical product record every feed format is normalized into.

Two shapes of the same record live here, on purpose:

- `Product`, a frozen attrs class: what embedders build, read and compare.
- `ProductRow`, a plain tuple in `PRODUCT_COLUMNS` order holding only
  storage-ready values (str, int, None, bytes). The ingest hot path builds rows
  directly, because building a 16-field attrs instance per item would cost a
  fifth of the whole per-item budget (ADR 0007); `Product.from_row` and
  `Product.to_row` convert losslessly between the two, and a property test
  holds them to it.
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
    "DIMENSION_UNITS",
    "PRODUCT_COLUMNS",
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
    def from_row(cls, row: ProductRow) -> Product:
        """Rebuild the typed record from its storage row."""
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
        )

    def to_row(self) -> ProductRow:
        """The storage row of this product."""
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
