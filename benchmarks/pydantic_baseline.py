"""What a user would write instead of this library: pydantic v2 models plus executemany.

The same rules as the contract (patterns, lengths, ranges, ISO 4217 decimals,
GTIN check digit, sale window) in idiomatic pydantic v2, the whole document
validated with `model_validate_json` (pydantic's fastest path), rows built and
upserted with the same statement into the same table. No streaming, no
per-item error report, no ledger, no audit: this is the bar to beat, not an
equivalent.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from partner_ingest.adapters_out.sqlite.products import UPSERT_SQL, batch_time
from partner_ingest.domain.model.checksums import gtin_check_digit_ok
from partner_ingest.domain.model.currencies import MINOR_UNITS, quantum


def _gtin(value: str) -> str:
    if not gtin_check_digit_ok(value):
        raise ValueError("check digit does not match")
    return value


Text = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]
Length = Annotated[Decimal, Field(gt=0, le=1_000_000)]


class Dimensions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    width: Length
    height: Length
    depth: Length
    unit: Literal["mm", "cm", "m", "in"]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sku: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
    price: Annotated[Decimal, Field(ge=0, le=1_000_000_000_000)]
    currency: Annotated[
        str, AfterValidator(lambda c: c if c in MINOR_UNITS else (_ for _ in ()).throw(ValueError(c)))
    ]
    quantity: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
    gtin: Annotated[str, Field(pattern=r"^(?:[0-9]{8}|[0-9]{12,14})$"), AfterValidator(_gtin)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    image_url: (
        Annotated[str, Field(max_length=2048, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+(?:[/?#]\S*)?$")]
        | None
    ) = None
    brand: Text | None = None
    manufacturer: Text | None = None
    dimensions: Dimensions | None = None
    sale_price: Annotated[Decimal, Field(ge=0)] | None = None
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None

    @model_validator(mode="after")
    def _cross_field(self) -> Self:
        step = quantum(self.currency)
        if self.price.quantize(step) != self.price:
            raise ValueError("too many decimals for the currency")
        if self.sale_price is not None and self.sale_price > self.price:
            raise ValueError("sale_price above price")
        if self.sale_starts_at and self.sale_ends_at and self.sale_starts_at >= self.sale_ends_at:
            raise ValueError("sale window ends before it starts")
        return self


class Feed(BaseModel):
    products: list[Item]


def ingest(conn: sqlite3.Connection, partner_id: str, document: bytes) -> int:
    """Validate the whole document, then upsert it in one transaction; returns rows written."""
    feed = Feed.model_validate_json(document)
    now = batch_time()
    rows = []
    for item in feed.products:
        d = item.dimensions
        values = (
            partner_id, item.sku, item.name, str(item.price.quantize(quantum(item.currency))), item.currency,
            item.quantity, item.brand, item.manufacturer, item.gtin, item.description, item.image_url,
            None if d is None else str(d.width), None if d is None else str(d.height),
            None if d is None else str(d.depth), None if d is None else d.unit,
            None if item.sale_price is None else str(item.sale_price),
            None if item.sale_starts_at is None else item.sale_starts_at.isoformat(),
            None if item.sale_ends_at is None else item.sale_ends_at.isoformat(),
            None, now, "pydantic-baseline",
        )  # fmt: skip
        rows.append(values)
    conn.execute("BEGIN IMMEDIATE")
    changed = conn.executemany(UPSERT_SQL, rows).rowcount
    conn.execute("COMMIT")
    return changed


def main() -> None:
    """`python pydantic_baseline.py DATABASE FEED`: the script as a user would run it, a whole process."""
    import sys

    database, feed = sys.argv[1], sys.argv[2]
    with open(feed, "rb") as document:
        body = document.read()
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    ingest(conn, "bench", body)
    conn.close()


if __name__ == "__main__":
    main()
