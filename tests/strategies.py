"""Hypothesis strategies for the whole suite: valid products per contract version,
raw items (valid, slightly broken, junk), arbitrary JSON-like values, and feeds.

Valid products are canonical: what the validator itself would produce. So a
price has exactly its currency's decimals (JPY 0, EUR 2, KWD 3), numbers are
written without an exponent, date-times are aware and in UTC, and optional
text is never empty (an empty CSV cell or XML element means "absent", so an
empty description could not survive those formats). Within that, they reach
for the edges: unicode and C1 characters in names, the range bounds, GTIN-8 to
GTIN-14, sale windows with microseconds, optional fields absent.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs
from hypothesis import strategies as st
from support.tracing import drawn_untraced

from partner_ingest.domain.model import Dimensions, Product, contract_for
from partner_ingest.domain.model.currencies import MINOR_UNITS
from partner_ingest.domain.model.product import DIMENSION_UNITS, JsonValue
from partner_ingest.domain.model.rules import IMAGE_URL, SKU
from partner_ingest.plugins._items import product_item

__all__ = [
    "PARTNER",
    "broken_items",
    "currencies",
    "dimensions",
    "extra_fields",
    "feeds",
    "foreign_feeds",
    "foreign_products",
    "gtins",
    "json_values",
    "junk_items",
    "money",
    "products",
    "raw_items",
    "texts",
    "with_gtin_check_digit",
]

PARTNER = "acme"


# Characters the contract forbids in names (CONTROL_CHARS); surrogates are left
# out by hypothesis' own alphabet below.
_FORBIDDEN = frozenset(chr(c) for c in [*range(0x20), 0x7F, 0xFFFE, 0xFFFF])
_WHITESPACE_ALLOWED = frozenset("\t\n\r")

# The currencies with 0, 2 and 3 decimals come up far more often than their
# share of the table: they are where precision rules differ.
_SPECIAL_CURRENCIES = ("JPY", "EUR", "KWD", "BHD", "CLP", "USD")


@functools.cache
def currencies() -> st.SearchStrategy[str]:
    """ISO 4217 codes from the shipped table, JPY/EUR/KWD first."""
    return st.sampled_from(_SPECIAL_CURRENCIES) | st.sampled_from(sorted(MINOR_UNITS))


@functools.cache
def money(currency: str, *, low: int = 0, high: Decimal = Decimal(10**12)) -> st.SearchStrategy[Decimal]:
    """An amount with exactly the decimals of `currency`, between low and high."""
    places = MINOR_UNITS[currency]
    scale = 10**places
    top = int(high * scale)
    units = st.one_of(
        st.integers(low * scale, min(top, 10_000 * scale)),
        st.integers(low * scale, top),
        st.sampled_from(sorted({low * scale, top, min(top, low * scale + 1)})),
    )
    return units.map(lambda n: Decimal(n).scaleb(-places))


@functools.cache
def texts(min_size: int, max_size: int, *, whitespace: bool = False) -> st.SearchStrategy[str]:
    """Text the contract accepts: any code point but the forbidden ones (C1 controls,
    U+2028, emoji, combining marks all allowed), with a bias to short strings."""
    banned = _FORBIDDEN - _WHITESPACE_ALLOWED if whitespace else _FORBIDDEN
    alphabet = st.characters(codec="utf-8", exclude_characters=banned)
    if max_size <= 40:
        return st.text(alphabet, min_size=min_size, max_size=max_size)
    # Long text near the limit, built by repeating a short one: drawing thousands
    # of characters one by one would make every example slow.
    near_limit = st.tuples(
        st.text(alphabet, min_size=1, max_size=8), st.integers(max_size - 2, max_size)
    ).map(lambda t: (t[0] * max_size)[: t[1]])
    return st.text(alphabet, min_size=min_size, max_size=min(max_size, 40)) | near_limit


def with_gtin_check_digit(body: str) -> str:
    """`body` followed by its GS1 check digit."""
    total = sum(int(d) * (3 if position % 2 == 0 else 1) for position, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


@functools.cache
def gtins() -> st.SearchStrategy[str]:
    """Valid GTIN-8, -12, -13 and -14 (leading zeros included)."""
    return st.sampled_from((8, 12, 13, 14)).flatmap(
        lambda n: st.text("0123456789", min_size=n - 1, max_size=n - 1).map(with_gtin_check_digit)
    )


def _lengths() -> st.SearchStrategy[Decimal]:
    # Greater than 0, at most 1e6, at most 6 decimals: plain notation, as str() writes it.
    return st.integers(0, 6).flatmap(
        lambda places: st.integers(1, 10**6 * 10**places).map(lambda n: Decimal(n).scaleb(-places))
    )


@functools.cache
def dimensions() -> st.SearchStrategy[Dimensions]:
    """Positive lengths in one of the contract's units."""
    return st.builds(Dimensions, _lengths(), _lengths(), _lengths(), st.sampled_from(DIMENSION_UNITS))


@functools.cache
def _image_urls() -> st.SearchStrategy[str]:
    assert IMAGE_URL.pattern is not None and IMAGE_URL.max_length is not None
    limit = IMAGE_URL.max_length

    def short_enough(url: str) -> bool:
        return len(url) <= limit

    generated: st.SearchStrategy[str] = st.from_regex(re.compile(IMAGE_URL.pattern), fullmatch=True).filter(
        short_enough
    )
    plain = st.sampled_from(
        [
            "https://img.example.com/a.jpg",
            "http://example.com",
            "HTTPS://EXAMPLE.COM/x?y=1&z=%20#frag",
            "https://例え.jp/商品/1.png",
        ]
    )
    return plain | generated


@functools.cache
def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _fraction_of(price: Decimal, currency: str, percent: int) -> Decimal:
    # A sale price at or below `price`, with the currency's decimals: drawn as a percentage
    # from one strategy, not through a new strategy per price (each new strategy is
    # validated on its first draw; strategies are cached, prices are not).
    step = Decimal(1).scaleb(-MINOR_UNITS[currency])
    return (price * percent / 100).quantize(step, rounding="ROUND_DOWN")


_PERCENT = st.integers(0, 100)
assert SKU.pattern is not None
_SKUS = st.from_regex(re.compile(SKU.pattern), fullmatch=True)

_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC),
)


@functools.cache
def products(version: int = 2, partner_id: str = PARTNER) -> st.SearchStrategy[Product]:
    """A valid, canonical product of contract `version` (no unknown fields).

    This and the strategies below are kept once per argument: a strategy is an immutable
    value, and hypothesis validates each new one on its first draw, which a test drawing
    `products(...)` inside its body would otherwise pay on every example. They are drawn
    outside the coverage tracer (`drawn_untraced`): generating is none of the package's code.
    """
    return drawn_untraced(_products(version, partner_id))


@st.composite
def _products(draw: st.DrawFn, version: int, partner_id: str) -> Product:
    known = contract_for(version).field_names
    currency = draw(currencies())
    price = draw(money(currency))

    def maybe(name: str, strategy: st.SearchStrategy[Any]) -> Any:
        return draw(_optional(strategy)) if name in known else None

    if price < 100:
        sale_price = maybe("sale_price", money(currency, high=price))
    else:
        percent = maybe("sale_price", _PERCENT)
        sale_price = None if percent is None else _fraction_of(price, currency, percent)
    starts = ends = None
    if sale_price is not None:
        starts = maybe("sale_starts_at", _MOMENTS)
        ends = maybe("sale_ends_at", _MOMENTS)
        if starts is not None and ends is not None and starts >= ends:
            ends = starts + timedelta(microseconds=draw(st.integers(1, 10**12)))
            if ends.year > 9999:  # pragma: no cover - only near the end of time
                ends = None
    return Product(
        partner_id=partner_id,
        sku=draw(_SKUS),
        name=draw(texts(1, 256)),
        price=price,
        currency=currency,
        quantity=draw(st.integers(0, 1_000_000_000)),
        brand=maybe("brand", texts(1, 128)),
        manufacturer=maybe("manufacturer", texts(1, 128)),
        gtin=maybe("gtin", gtins()),
        description=maybe("description", texts(1, 5000, whitespace=True)),
        image_url=maybe("image_url", _image_urls()),
        dimensions=maybe("dimensions", dimensions()),
        sale_price=sale_price,
        sale_starts_at=starts,
        sale_ends_at=ends,
    )


@functools.cache
def raw_items(version: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """The JSON-like item of a valid product, as a JSON feed carries it (Decimals kept)."""
    return drawn_untraced(products(version).map(lambda p: product_item(p, version)))


@functools.cache
def feeds(version: int = 2, *, max_size: int = 20) -> st.SearchStrategy[list[Product]]:
    """Valid products with distinct SKUs: one feed's worth."""
    return drawn_untraced(st.lists(products(version), max_size=max_size, unique_by=lambda p: p.sku))


def _carried(fmt_name: str, product: Product) -> Product:
    """`product` as far as a foreign format carries it (docs/foreign-formats.md says what it cannot)."""
    changes: dict[str, Any] = {"manufacturer": None}
    if product.sale_starts_at is None or product.sale_ends_at is None:
        changes.update(sale_starts_at=None, sale_ends_at=None)  # an interval has both ends
    dims = product.dimensions
    if dims is not None and dims.unit not in ("in", "cm"):
        changes["dimensions"] = attrs.evolve(dims, unit="cm")  # Merchant Center sizes are in or cm
    if fmt_name == "shopify-csv":
        # One currency (the partner's), no sizes, no sale window; a sale price equal to the
        # price is no sale in the export (compare-at at the price is ignored).
        step = Decimal("0.01")
        price = product.price.quantize(step, ROUND_DOWN)
        sale = product.sale_price
        sale = None if sale is None else sale.quantize(step, ROUND_DOWN)
        changes.update(
            currency="EUR",
            price=price,
            sale_price=None if sale is None or sale >= price else sale,
            dimensions=None,
            sale_starts_at=None,
            sale_ends_at=None,
        )
    return attrs.evolve(product, **changes)


@functools.cache
def foreign_products(fmt_name: str, version: int = 2) -> st.SearchStrategy[Product]:
    """A valid product as a foreign format (gmc-xml, gmc-tsv, shopify-csv) carries it."""
    return drawn_untraced(products(version).map(lambda p: _carried(fmt_name, p)))


@functools.cache
def foreign_feeds(fmt_name: str, version: int = 2, *, max_size: int = 5) -> st.SearchStrategy[list[Product]]:
    """Valid products with distinct SKUs, as a foreign format carries them."""
    return drawn_untraced(
        st.lists(foreign_products(fmt_name, version), max_size=max_size, unique_by=lambda p: p.sku)
    )


# --- arbitrary and broken input ---------------------------------------------------

_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**5000),
    st.floats(),  # NaN and infinities included
    st.decimals(),  # NaN, sNaN and infinities included
    st.text(),
    st.text(st.characters(codec=None, categories=("Cs", "Cc"))),  # lone surrogates, controls
    st.sampled_from(["", " ", "12.50", " EUR ", "eur", "2026-11-27T08:00:00Z", "NaN", "1e5", "-0"]),
)


@functools.cache
def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Anything a JSON parser (or an embedder's dict) could hand the validator, and a bit more:
    NaN and infinities, huge integers, bools, lone surrogates, nested lists and objects."""
    return drawn_untraced(_json_values(max_leaves))


def _json_values(max_leaves: int) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=max_leaves,
    )


def _field_names(version: int) -> st.SearchStrategy[str]:
    names = sorted(contract_for(version).field_names)
    return (
        st.sampled_from(names)
        | st.sampled_from(["dimensions.width", "extra", "SKU", "price "])
        | st.text(max_size=10)
    )


@functools.cache
def junk_items(version: int = 2) -> st.SearchStrategy[Any]:
    """Dicts with contract and random keys mapped to arbitrary values, or not a dict at all."""
    return drawn_untraced(
        st.dictionaries(_field_names(version), json_values(8), max_size=12) | json_values(4)
    )


@functools.cache
def broken_items(version: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """A valid raw item, then zero to three small edits: a field dropped, set to a value of
    another kind, tweaked as text, or an unknown field added. Close to valid on purpose."""
    return drawn_untraced(_broken_items(version))


@st.composite
def _broken_items(draw: st.DrawFn, version: int) -> dict[str, Any]:
    item = draw(raw_items(version))
    names = sorted(contract_for(version).field_names)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names))
        edit = draw(st.sampled_from(["drop", "junk", "text", "number", "unknown", "nested"]))
        if edit == "drop":
            item.pop(name, None)
        elif edit == "junk":
            item[name] = draw(json_values(4))
        elif edit == "text":
            item[name] = draw(
                st.sampled_from(["", " ", "x" * 300, "A B", "\x00", "12.5", "1,5", "2026-02-30T00:00:00Z"])
                | st.text(max_size=12)
            )
        elif edit == "number":
            item[name] = draw(
                st.sampled_from(
                    [Decimal("0.001"), Decimal("-1"), Decimal("1E+20"), Decimal("5.0"), 0, -1, 10**13]
                )
                | st.integers()
                | st.decimals(allow_nan=False, allow_infinity=False)
            )
        elif edit == "unknown":
            item[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in names))] = draw(
                json_values(4)
            )
        elif isinstance(item.get("dimensions"), dict):
            dims = dict(item["dimensions"])
            member = draw(st.sampled_from(["width", "height", "depth", "unit", "extra"]))
            dims[member] = draw(json_values(2) | st.just(Decimal(0)))
            item["dimensions"] = dims
    return item


@functools.cache
def extra_fields(version: int = 2) -> st.SearchStrategy[dict[str, JsonValue]]:
    """Unknown fields as lenient mode keeps them: text keys outside the contract, JSON values
    with exact Decimals (never floats), nothing null at the top."""
    known = contract_for(version).field_names
    value: st.SearchStrategy[JsonValue] = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(10**12), 10**12)
        | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6)
        | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    )
    return drawn_untraced(
        st.dictionaries(
            st.text(min_size=1, max_size=12).filter(lambda k: k not in known and "." not in k),
            value.filter(lambda v: v is not None),
            max_size=4,
        )
    )
