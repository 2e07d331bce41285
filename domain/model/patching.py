"""A patch item merged into the stored product it names (feed mode `patch`, ADR 0036).

A patch carries only the fields that change. The merge builds the whole item
the product would be as a feed of the same version (the stored values for
every field the patch leaves out, the patch's own for the others; an explicit
`null` leaves the field out, clearing it), so the reference validator judges
the result exactly as it judges any item: a required field cleared is
`missing`, a sale price left above a lowered price is a `relation` error.
Columns the feed's version does not know (a v1 patch of a product a v2 feed
wrote) keep their stored values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from .product import EXTRA, NAME, PRODUCT_COLUMNS, ProductRow
from .rules import FeedContract

__all__ = ["patched_item", "patched_row"]

_PLAIN: Final = (
    "name", "currency", "brand", "manufacturer", "gtin", "description", "image_url",
    "sale_starts_at", "sale_ends_at",
)  # fmt: skip
_DECIMALS: Final = ("price", "sale_price")
_DIMENSIONS: Final = ("width", "height", "depth", "dimension_unit")


def _stored_item(row: ProductRow, known: frozenset[str], lenient: bool) -> dict[str, object]:
    """The stored product as the raw item of a feed whose contract knows `known`."""
    values = dict(zip(PRODUCT_COLUMNS, row, strict=True))
    item: dict[str, object] = {"sku": values["sku"], "quantity": values["quantity"]}
    for name in _PLAIN:
        if name in known and values[name] is not None:
            item[name] = values[name]
    for name in _DECIMALS:
        if name in known and values[name] is not None:
            item[name] = Decimal(str(values[name]))
    if "dimensions" in known and values["width"] is not None:
        item["dimensions"] = {
            "width": Decimal(str(values["width"])),
            "height": Decimal(str(values["height"])),
            "depth": Decimal(str(values["depth"])),
            "unit": values["dimension_unit"],
        }
    if lenient and values["extra"] is not None:
        for key, value in json.loads(str(values["extra"]), parse_float=Decimal).items():
            item.setdefault(key, value)
    return item


def patched_item(
    stored: ProductRow, patch: Mapping[str, object], contract: FeedContract, *, lenient: bool
) -> dict[str, object]:
    """The raw item of `stored` with `patch` applied: present fields replace, `null` clears."""
    item = _stored_item(stored, contract.field_names, lenient)
    for key, value in patch.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def patched_row(row: ProductRow, stored: ProductRow, contract: FeedContract, *, lenient: bool) -> ProductRow:
    """`row` (the validated merge) with the stored values of every column the feed's version
    does not know, and in strict mode the stored unknown fields (a strict patch cannot name them)."""
    known = contract.field_names
    out = list(row)
    for position, column in enumerate(PRODUCT_COLUMNS):
        field = "dimensions" if column in _DIMENSIONS else column
        if position >= NAME and position != EXTRA and field not in known:
            out[position] = stored[position]
    if not lenient:
        out[EXTRA] = stored[EXTRA]
    return tuple(out)  # type: ignore[return-value]
