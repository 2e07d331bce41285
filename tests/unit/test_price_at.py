"""`Product.price_at`: the effective price at an instant (ADR 0016)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.domain.model.product import Product

START = datetime(2026, 11, 27, 8, tzinfo=UTC)
END = START + timedelta(hours=4)
SALE = Product(
    "acme",
    "S",
    "Mug",
    Decimal("10.00"),
    "EUR",
    1,
    sale_price=Decimal("7.50"),
    sale_starts_at=START,
    sale_ends_at=END,
)


def test_the_sale_price_holds_from_the_start_up_to_the_end() -> None:
    assert SALE.price_at(START - timedelta(microseconds=1)) == Decimal("10.00")
    assert SALE.price_at(START) == Decimal("7.50")
    assert SALE.price_at(END - timedelta(microseconds=1)) == Decimal("7.50")
    assert SALE.price_at(END) == Decimal("10.00")


def test_an_open_ended_window_and_no_sale() -> None:
    assert attrs.evolve(SALE, sale_starts_at=None).price_at(START - timedelta(days=9)) == Decimal("7.50")
    assert attrs.evolve(SALE, sale_ends_at=None).price_at(END + timedelta(days=9)) == Decimal("7.50")
    assert attrs.evolve(SALE, sale_price=None).price_at(START) == Decimal("10.00")


@given(st.datetimes(timezones=st.just(UTC)))
def test_the_effective_price_is_the_sale_price_exactly_inside_the_window(at: datetime) -> None:
    assert SALE.price_at(at) == (Decimal("7.50") if START <= at < END else Decimal("10.00"))
