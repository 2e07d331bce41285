"""Property (a): every registered (format, version) carries every valid product there and back.

A product rendered by a format, parsed back and validated in strict mode gives
exactly `product.to_row()`, and `Product.from_row` of that row is the product.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import feeds, products
from support.examples import examples

from partner_ingest.domain.model import Product
from partner_ingest.plugins import load_formats
from partner_ingest.plugins.testing import assert_round_trips
from partner_ingest.ports.formats import FeedFormat

FORMATS = load_formats(entry_points=False).all()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-v{f.version}")
@given(data=st.data())
def test_a_valid_product_survives_render_parse_validate(fmt: FeedFormat, data: st.DataObject) -> None:
    product = data.draw(products(fmt.version), label="product")
    assert_round_trips(fmt, [product])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.name}-v{f.version}")
# Several products per example: the single-product test above covers more ground.
@settings(max_examples=examples(25))
@given(data=st.data())
def test_a_feed_survives_the_round_trip_read_a_few_bytes_at_a_time(
    fmt: FeedFormat, data: st.DataObject
) -> None:
    feed: list[Product] = data.draw(feeds(fmt.version, max_size=5), label="feed")
    assert_round_trips(fmt, feed, trickle=True)


def test_every_format_is_registered_in_every_version() -> None:
    registered = {(f.name, f.version) for f in FORMATS}
    assert registered == {(name, version) for name in ("csv", "json", "jsonl", "xml") for version in (1, 2)}


def test_the_named_positions_of_a_row_are_its_columns() -> None:
    from partner_ingest.domain.model import product as model

    named = {getattr(model, column.upper()): column for column in model.PRODUCT_COLUMNS}
    assert named == dict(enumerate(model.PRODUCT_COLUMNS))
