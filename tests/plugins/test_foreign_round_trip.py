"""The foreign formats (gmc-xml, gmc-tsv, shopify-csv) pass the checks every format passes.

The plugin author's kit (`check_feed_format`) and the round-trip properties of
tests/unit/test_round_trip.py: a product rendered, parsed back and validated in
strict mode comes back as its own row, here for every product the format can
carry (what it cannot is in docs/foreign-formats.md and `_carried` in strategies.py).
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import _carried, foreign_feeds, foreign_products
from support.examples import examples

from partner_ingest.domain.model import Product
from partner_ingest.plugins import load_formats
from partner_ingest.plugins.testing import assert_round_trips, check_feed_format, example_products
from partner_ingest.ports.formats import FeedFormat

FOREIGN = ("gmc-tsv", "gmc-xml", "shopify-csv")
FORMATS = [f for f in load_formats().all() if f.name in FOREIGN]


def test_each_is_registered_in_both_versions_through_its_entry_point() -> None:
    registry = load_formats()
    assert {(f.name, f.version) for f in FORMATS} == {(n, v) for n in FOREIGN for v in (1, 2)}
    for name in FOREIGN:
        assert registry.plugin_of(name, 1) == f"{name} (entry point of partner-catalog-ingest 0.1.0)"
    # Loaded as a third party's plugin is: blocked by name, absent without entry points.
    assert load_formats(block=["gmc-xml"]).versions("gmc-xml") == []
    assert load_formats(entry_points=False).versions("shopify-csv") == []


def _kit_products(fmt: FeedFormat) -> list[Product]:
    carried = [_carried(fmt.name, p) for p in example_products(fmt.version)]
    if fmt.name == "shopify-csv":
        # The kit's products in one currency: the export has none, the partner's stands in.
        return [attrs.evolve(p, price=p.price.quantize(Decimal("0.01"))) for p in carried]
    return carried


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-v{f.version}")
def test_the_plugin_author_checks_pass(fmt: FeedFormat) -> None:
    check_feed_format(fmt, products=_kit_products(fmt))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-v{f.version}")
@given(data=st.data())
def test_a_valid_product_survives_render_parse_validate(fmt: FeedFormat, data: st.DataObject) -> None:
    product = data.draw(foreign_products(fmt.name, fmt.version), label="product")
    assert_round_trips(fmt, [product])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-v{f.version}")
@settings(max_examples=examples(25))
@given(data=st.data())
def test_a_feed_survives_the_round_trip_read_a_few_bytes_at_a_time(
    fmt: FeedFormat, data: st.DataObject
) -> None:
    feed = data.draw(foreign_feeds(fmt.name, fmt.version), label="feed")
    assert_round_trips(fmt, feed, trickle=True)
