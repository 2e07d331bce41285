"""Product -> raw item, the shape every built-in format renders (the inverse of parsing)."""

from __future__ import annotations

from typing import Any

from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.rules import contract_for

__all__ = ["product_item"]


def product_item(product: Product, version: int) -> dict[str, Any]:
    """The fields of `product` that feed `version` knows, as JSON-like values (Decimal kept),
    followed by its unknown fields (`extra`), which lenient mode would keep again."""
    known = contract_for(version).field_names
    item: dict[str, Any] = {}
    for name in (
        "sku", "name", "price", "currency", "quantity", "gtin", "description", "image_url",
        "brand", "manufacturer", "sale_price",
    ):  # fmt: skip
        value = getattr(product, name)
        if value is not None and name in known:
            item[name] = value
    if product.dimensions is not None and "dimensions" in known:
        d = product.dimensions
        item["dimensions"] = {
            "width": d.width,
            "height": d.height,
            "depth": d.depth,
            "unit": d.unit,
        }
    for name in ("sale_starts_at", "sale_ends_at"):
        moment = getattr(product, name)
        if moment is not None and name in known:
            item[name] = moment.isoformat().replace("+00:00", "Z")
    for key, value in product.extra.items():
        item.setdefault(key, value)
    return item
