"""Merchant Center product attributes onto the canonical item, and back: shared by gmc-xml and gmc-tsv.

The attribute names and notations are those of Google's Merchant Center product
data specification: `price` is "15.00 USD" (amount, space, ISO 4217 code),
`sale_price_effective_date` an ISO 8601 interval "start/end" whose ends carry a
time zone (`-0800`, `+01:00` or `Z`), `shipping_length` "20 in". What a
source writes in its own notation and cannot be read becomes an
`UnreadableValue`, so the item's error says what is wrong in the source's terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import attrs

from partner_ingest.domain.model.feed_source import FormatMapping, MappedAttribute, UnreadableValue
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode
from partner_ingest.domain.model.rules import contract_for

__all__ = [
    "GMC_NAMESPACE",
    "MAPPING",
    "Converter",
    "attributes_of",
    "source_of",
]

GMC_NAMESPACE: Final = "http://base.google.com/ns/1.0"
SPECIFICATION: Final = (
    "Google Merchant Center product data specification (support.google.com/merchants/answer/7052112)"
)

_AVAILABILITY: Final = {"in_stock": 1, "out_of_stock": 0, "preorder": 0, "backorder": 0}
_AMOUNT: Final = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
_MONEY: Final = re.compile(rf"\s*(?:([A-Za-z]{{3}})\s*)?({_AMOUNT})\s*([A-Za-z]{{3}})?\s*")
_CODE: Final = re.compile(r"(?<![A-Za-z])([A-Z]{3})\s*$")
_MOMENT: Final = re.compile(
    r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2})(:[0-9]{2}(?:\.[0-9]+)?)?"
    r"(Z|z|[+-][0-9]{2}:?[0-9]{2})\s*"
)
_LENGTH: Final = re.compile(rf"\s*({_AMOUNT})\s*(in|cm)\s*", re.IGNORECASE)
_PLAIN_LENGTH: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?) (in|cm)").fullmatch
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
"""An attribute name as Merchant Center writes them, and as XML and a TSV header can carry it."""
_CM_PER_IN: Final = Decimal("2.54")
_SHIPPING: Final = (("width", "shipping_width"), ("height", "shipping_height"), ("depth", "shipping_length"))

_SOURCES: Final = {
    "sku": "id",
    "name": "title",
    "description": "description",
    "image_url": "image_link",
    "price": "price",
    "currency": "price",
    "brand": "brand",
    "gtin": "gtin",
    "sale_price": "sale_price",
    "sale_starts_at": "sale_price_effective_date",
    "sale_ends_at": "sale_price_effective_date",
    "dimensions": "shipping_length",
    "dimensions.width": "shipping_width",
    "dimensions.height": "shipping_height",
    "dimensions.depth": "shipping_length",
    "dimensions.unit": "shipping_length",
}


def source_of(field: str, quantity_given: bool) -> str:
    """The attribute an item error on canonical `field` points at (unknown fields are their own)."""
    if field == "quantity":
        return "quantity" if quantity_given else "availability"
    return _SOURCES.get(field, field)


@attrs.frozen
class Converter:
    """Turns one item's Merchant Center attributes into a canonical raw item, for one version."""

    version: int
    currency: str | None = None
    """The partner's currency, for a price written without a code."""
    _v2: bool = attrs.field(init=False)

    @_v2.default
    def _knows_v2(self) -> bool:
        return "sale_price" in contract_for(self.version).field_names

    def item(self, source: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The canonical item (taking `source` apart), and whether it gave `quantity` itself."""
        pop, get = source.pop, source.get
        item: dict[str, Any] = {}
        value = pop("id", None)
        if value is not None:
            item["sku"] = value
        # RSS's and Atom's own elements (rss:, atom:) are never kept: no need to pop them.
        value = pop("title", None) or get("rss:title") or get("atom:title")
        if value is not None:
            item["name"] = value
        value = (
            pop("description", None) or get("rss:description") or get("atom:summary") or get("atom:content")
        )
        if value is not None:
            item["description"] = value
        value = pop("image_link", None)
        if value is not None:
            item["image_url"] = value
        currency = None
        value = pop("price", None)
        if value is not None:
            item["price"], currency = _money(value, "price", self.currency)
            item["currency"] = currency if currency is not None else _no_currency(value)
        quantity_given = "quantity" in source
        availability = pop("availability", None)
        if quantity_given:
            item["quantity"] = pop("quantity")
        elif availability is not None:
            item["quantity"] = _stock(availability)
        value = pop("gtin", None)
        if value is not None:
            item["gtin"] = value
        if self._v2:
            self._v2_fields(source, item, currency)
        if source:
            link = get("rss:link") or get("atom:link")
            if link is not None:
                source.setdefault("link", link)
            for name, value in source.items():
                # RSS and Atom elements of the entry itself (guid, updated, ...) are its envelope.
                if name.startswith(("rss:", "atom:")):
                    continue
                # A non-Merchant-Center attribute named like a canonical field fills it if free.
                item.setdefault(name, value)
        return item, quantity_given

    def _v2_fields(self, source: dict[str, Any], item: dict[str, Any], currency: str | None) -> None:
        pop = source.pop
        value = pop("brand", None)
        if value is not None:
            item["brand"] = value
        value = pop("sale_price", None)
        if value is not None:
            amount, sale_currency = _money(value, "sale_price", currency or self.currency)
            if (
                sale_currency is not None
                and currency is not None
                and sale_currency.upper() != currency.upper()
            ):
                amount = UnreadableValue(
                    f"sale_price is in {sale_currency}, price in {currency}: one currency per product",
                    ErrorCode.RELATION,
                )
            item["sale_price"] = amount
        value = pop("sale_price_effective_date", None)
        if value is not None:
            item["sale_starts_at"], item["sale_ends_at"] = _interval(value)
        if "shipping_length" in source or "shipping_width" in source or "shipping_height" in source:
            item["dimensions"] = _dimensions(
                pop("shipping_width", None), pop("shipping_height", None), pop("shipping_length", None)
            )


def _money(value: Any, name: str, fallback: str | None) -> tuple[Any, str | None]:  # noqa: ANN401
    """(amount text, currency code or None) of "1,299.00 USD"; an UnreadableValue amount otherwise."""
    if value.__class__ is not str:
        return value, fallback  # a repeated or nested element: the validator says it is no number
    found = _MONEY.fullmatch(value)
    if found is None:
        # Its code, if it ends in one, is still its currency: the amount is the one problem.
        code = _CODE.search(value)
        problem = UnreadableValue(f"{name} {value[:40]!r} is not an amount with its currency, e.g. 15.00 USD")
        return problem, code.group(1) if code else fallback
    before, amount, after = found.groups()
    if before is not None and after is not None:
        return UnreadableValue(f"{name} {value[:40]!r} names two currencies"), fallback
    if "," in amount:
        amount = amount.replace(",", "")
    return amount, after or before or fallback


def _no_currency(price: str) -> UnreadableValue:
    return UnreadableValue(
        f"price {str(price)[:40]!r} has no currency code (write e.g. 15.00 USD), and the partner has no currency setting",
        ErrorCode.MISSING,
    )


def _stock(availability: Any) -> Any:  # noqa: ANN401
    """Units in stock said by `availability` alone: in_stock is 1 (at least one; the feed says no more)."""
    if availability.__class__ is not str:
        return availability
    units = _AVAILABILITY.get(availability.strip().lower().replace(" ", "_"))
    if units is None:
        return UnreadableValue(
            f"availability {availability[:40]!r} is not one of in_stock, out_of_stock, preorder, backorder",
            ErrorCode.ENUM,
        )
    return str(units)


def _moment(text: str) -> str | None:
    """RFC 3339 text of one end of an effective-date interval, None when it is not one."""
    found = _MOMENT.fullmatch(text)
    if found is None:
        return None
    date, clock, seconds, zone = found.groups()
    if zone in ("Z", "z"):
        zone = "Z"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return f"{date}T{clock}{seconds or ':00'}{zone}"


def _interval(value: Any) -> tuple[Any, Any]:  # noqa: ANN401
    if value.__class__ is not str:
        return value, value
    start, slash, end = value.partition("/")
    starts, ends = _moment(start), _moment(end)
    if not slash or starts is None or ends is None:
        problem = UnreadableValue(
            f"sale_price_effective_date {value[:60]!r} is not an ISO 8601 interval with time zones, "
            "e.g. 2026-11-27T08:00-0800/2026-11-30T23:59-0800"
        )
        return problem, problem
    return starts, ends


def _dimensions(width: Any, height: Any, depth: Any) -> dict[str, Any]:  # noqa: ANN401
    """Canonical dimensions of the three shipping lengths; inches and centimetres mixed become centimetres."""
    # The common case first, once per item of most feeds: three plain lengths in one unit.
    if width.__class__ is str and height.__class__ is str and depth.__class__ is str:
        w, h, d = _PLAIN_LENGTH(width), _PLAIN_LENGTH(height), _PLAIN_LENGTH(depth)
        if w is not None and h is not None and d is not None:
            unit = w.group(2)
            if unit == h.group(2) == d.group(2):
                return {"width": w.group(1), "height": h.group(1), "depth": d.group(1), "unit": unit}
    return _mixed_dimensions(width, height, depth)


def _mixed_dimensions(width: Any, height: Any, depth: Any) -> dict[str, Any]:  # noqa: ANN401
    out: dict[str, Any] = {}
    units: dict[str, tuple[Decimal, str]] = {}
    for member, value in (("width", width), ("height", height), ("depth", depth)):
        if value is None:
            continue
        found = _LENGTH.fullmatch(value) if value.__class__ is str else None
        if found is None:
            out[member] = UnreadableValue(
                f"{dict(_SHIPPING)[member]} {str(value)[:40]!r} is not a length in in or cm, e.g. 20 in"
            )
            continue
        units[member] = (Decimal(found.group(1).replace(",", "")), found.group(2).lower())
    kinds = {unit for _, unit in units.values()}
    unit = kinds.pop() if len(kinds) == 1 else "cm"
    for member, (amount, given) in units.items():
        out[member] = str(amount if given == unit else amount * _CM_PER_IN)
    if units:
        out["unit"] = unit
    return out


def attributes_of(product: Product, version: int) -> list[tuple[str, str]]:
    """The Merchant Center attributes of a canonical product, in the specification's order."""
    known = contract_for(version).field_names
    out = [("id", product.sku), ("title", product.name)]
    if product.description is not None:
        out.append(("description", product.description))
    if product.image_url is not None:
        out.append(("image_link", product.image_url))
    out.append(("availability", "in_stock" if product.quantity else "out_of_stock"))
    out.append(("quantity", str(product.quantity)))
    out.append(("price", f"{product.price} {product.currency}"))
    if product.gtin is not None:
        out.append(("gtin", product.gtin))
    if "sale_price" in known:
        if product.brand is not None:
            out.append(("brand", product.brand))
        if product.sale_price is not None:
            out.append(("sale_price", f"{product.sale_price} {product.currency}"))
        if product.sale_starts_at is not None and product.sale_ends_at is not None:
            out.append(
                ("sale_price_effective_date", f"{_iso(product.sale_starts_at)}/{_iso(product.sale_ends_at)}")
            )
        dims = product.dimensions
        if dims is not None and dims.unit in ("in", "cm"):
            out.extend((attribute, f"{getattr(dims, member)} {dims.unit}") for member, attribute in _SHIPPING)
    out.extend(
        (name, value)
        for name, value in product.extra.items()
        if isinstance(value, str) and _NAME.fullmatch(name)
    )
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _attribute(source: str, fields: Iterable[str], note: str = "") -> MappedAttribute:
    return MappedAttribute(source, tuple(fields), note)


MAPPING: Final = FormatMapping(
    specification=SPECIFICATION,
    attributes=(
        _attribute("id", ["sku"], "must also meet the sku rule: 1-64 letters, digits, '.', '_' or '-'"),
        _attribute("title", ["name"], "RSS <title> and Atom <title> are read when <g:title> is absent"),
        _attribute(
            "description",
            ["description"],
            "RSS <description>, Atom <summary> or <content> when <g:description> is absent",
        ),
        _attribute("image_link", ["image_url"]),
        _attribute(
            "price",
            ["price", "currency"],
            '"15.00 USD": amount and ISO 4217 code; thousands separators (1,299.00) are read; '
            "without a code, the partner's currency setting",
        ),
        _attribute(
            "quantity", ["quantity"], "not a core Merchant Center attribute, but read where a feed gives it"
        ),
        _attribute(
            "availability",
            ["quantity"],
            "only without quantity: in_stock counts as 1 unit (the feed says no more), "
            "out_of_stock, preorder and backorder as 0",
        ),
        _attribute("brand", ["brand"], "version 2; in version 1 an unknown field"),
        _attribute("gtin", ["gtin"], "with a valid GS1 check digit"),
        _attribute(
            "sale_price", ["sale_price"], "version 2; in the currency of price (a code may be left out)"
        ),
        _attribute(
            "sale_price_effective_date",
            ["sale_starts_at", "sale_ends_at"],
            "version 2; ISO 8601 start/end, each with a time zone (-0800, +01:00, Z), seconds optional",
        ),
        _attribute(
            "shipping_length, shipping_width, shipping_height",
            ["dimensions.depth", "dimensions.width", "dimensions.height", "dimensions.unit"],
            "version 2; the package's size; in or cm (mixed units become cm)",
        ),
        _attribute("link", [], "no canonical field: kept in extra (lenient) or reported (strict)"),
        _attribute("mpn", [], "no canonical field: kept in extra (lenient) or reported (strict)"),
        _attribute(
            "item_group_id",
            [],
            "no canonical field: each variant is its own product (its id the sku); the group id is "
            "kept in extra (lenient) or reported (strict)",
        ),
        _attribute(
            "additional_image_link, condition, shipping, shipping_weight, product_type, ...",
            [],
            "no canonical field: kept in extra under their names (lenient) or reported (strict); "
            "a repeated attribute is kept as a list, a nested one (shipping) as an object",
        ),
        _attribute(
            "RSS <guid>, <pubDate>, ...; Atom <id>, <updated>, <link href>, ...",
            [],
            "the envelope of an entry, not product data: not carried",
        ),
    ),
    unmapped="kept in extra under the attribute's name (lenient) or reported as unknown_field (strict), "
    "exactly as for the built-in formats",
)
