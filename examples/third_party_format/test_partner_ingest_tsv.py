"""The TSV plugin's own tests, as its author would write them: the library's standard
checks for feed formats (`partner_ingest.plugins.testing`), then what is special to TSV.

partner-catalog-ingest runs this file in its own suite (pytest's testpaths include
examples/), so the example can never drift from the helpers it shows.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from partner_ingest_tsv import MEDIA_TYPE, TsvFeed

from partner_ingest.domain.model import ErrorCode, MalformedFeedError, Product
from partner_ingest.plugins.testing import assert_round_trips, check_feed_format, example_products, parse_all


@pytest.mark.parametrize("version", [1, 2])
def test_the_format_passes_the_standard_checks(version: int) -> None:
    check_feed_format(TsvFeed(version))


def test_tabs_line_breaks_and_backslashes_in_text_survive_a_round_trip() -> None:
    tricky = Product(
        partner_id="example-partner",
        sku="T-1",
        name="back\\slash \\t not a tab",
        price=Decimal("1.50"),
        currency="EUR",
        quantity=1,
        description="a\ttab, line one\nline two\r\n",
    )
    assert_round_trips(TsvFeed(1), [tricky, *example_products(1)], trickle=True)


def test_the_document_is_what_a_partner_would_write_by_hand() -> None:
    document = (
        b"sku\tname\tprice\tcurrency\tquantity\r\nA-1\tMug\t9.50\tEUR\t3\r\n\r\nA-2\tCup\\tSet\t1\tEUR\t0\r\n"
    )
    [(first, first_at), (second, _)] = parse_all(TsvFeed(1), document)
    assert first == {"sku": "A-1", "name": "Mug", "price": "9.50", "currency": "EUR", "quantity": "3"}
    assert isinstance(second, dict)
    assert second["name"] == "Cup\tSet"
    assert TsvFeed(1).locate(0, first_at, "price").to_json() == {"line": 2, "column": 3}
    assert TsvFeed(1).media_types == (MEDIA_TYPE,)


@pytest.mark.parametrize(
    ("document", "code", "line"),
    [
        (b"", ErrorCode.MALFORMED, 1),
        (b"sku\tsku\n", ErrorCode.MALFORMED, 1),
        (b"dimensions\tdimensions.width\n", ErrorCode.MALFORMED, 1),
        (b"sku\tname\nA-1\n", ErrorCode.MALFORMED, 2),
        (b"sku\tname\nA-1\tback\\slash\n", ErrorCode.MALFORMED, 2),
        (b"sku\tname\nA-1\t\xff\n", ErrorCode.ENCODING, 2),
        (b"sku\tname\nA-1\t" + b"x" * 300_000 + b"\n", ErrorCode.ITEM_TOO_LARGE, 2),
    ],
    ids=[
        "empty",
        "repeated-header",
        "plain-and-dotted",
        "short-row",
        "stray-backslash",
        "not-utf8",
        "huge-row",
    ],
)
def test_a_malformed_document_is_one_feed_error_naming_its_line(
    document: bytes, code: ErrorCode, line: int
) -> None:
    with pytest.raises(MalformedFeedError) as raised:
        parse_all(TsvFeed(1), document)
    assert raised.value.error.code is code
    location = raised.value.error.location
    assert location is not None
    assert location.line == line
