"""Products searched by name, the same on every store: a substring, ASCII case ignored, SKU order,
paged after a SKU, bounded by the limit, one partner's only, wildcards taken literally."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
from support.stores import StoreUnderTest

from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.product import Product
from partner_ingest.ports.repositories import NameMatches

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _product(sku: str, name: str) -> Product:
    return Product(
        partner_id="acme",
        sku=sku,
        name=name,
        price=Decimal("10.00"),
        currency="EUR",
        quantity=1,
    )


def _seed(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow:
        for pid in ("acme", "globex"):
            uow.partners.add(Partner(id=pid, name=pid, created_at=T0))
        uow.products.upsert(
            [
                _product("D-4", "Oak DESK large").to_row(),
                _product("A-1", "Walnut desk").to_row(),
                _product("B-2", "Chair").to_row(),
                _product("C-3", "Desktop lamp").to_row(),
                _product("E-5", "100% wool_rug").to_row(),
                _product("F-6", "100 wool rug").to_row(),
                attrs.evolve(_product("A-0", "Globex desk"), partner_id="globex").to_row(),
            ]
        )
        uow.commit()


def _skus(found: NameMatches) -> list[str]:
    return [p.sku for p in found.products]


def test_a_name_search_finds_substrings_ignoring_ascii_case_in_sku_order(store: StoreUnderTest) -> None:
    _seed(store)
    with store.unit_of_work(read_only=True) as uow:
        assert _skus(uow.products.search_names("acme", "DeSk")) == ["A-1", "C-3", "D-4"]
        assert _skus(uow.products.search_names("acme", "desk", limit=2)) == ["A-1", "C-3"]
        assert _skus(uow.products.search_names("acme", "desk", after_sku="C-3")) == ["D-4"]
        assert uow.products.search_names("acme", "sofa") == NameMatches([], None)
        assert _skus(uow.products.search_names("globex", "desk")) == ["A-0"]


def test_wildcards_in_a_name_search_are_plain_characters(store: StoreUnderTest) -> None:
    _seed(store)
    with store.unit_of_work(read_only=True) as uow:
        assert _skus(uow.products.search_names("acme", "100%")) == ["E-5"]
        assert _skus(uow.products.search_names("acme", "l_r")) == ["E-5"]
        assert uow.products.search_names("acme", "\\").products == []
        assert uow.products.search_names("acme", "WALNUT").products == [uow.products.get("acme", "A-1")]


def test_a_name_search_looks_at_a_bounded_window_and_says_where_it_stopped(store: StoreUnderTest) -> None:
    _seed(store)  # acme: A-1, B-2, C-3, D-4, E-5, F-6
    with store.unit_of_work(read_only=True) as uow:
        # Three products looked at (A-1, B-2, C-3): two match, and the scan stopped at C-3.
        found = uow.products.search_names("acme", "desk", scan=3)
        assert (_skus(found), found.scanned_to) == (["A-1", "C-3"], "C-3")
        # Nothing in the window matches: an empty answer that still says how far it looked.
        assert uow.products.search_names("acme", "rug", scan=2) == NameMatches([], "B-2")
        assert _skus(uow.products.search_names("acme", "rug", after_sku="B-2", scan=4)) == ["E-5", "F-6"]
        # A window reaching the last product: nothing further to search.
        assert uow.products.search_names("acme", "rug", after_sku="B-2", scan=4).scanned_to is None
        assert uow.products.search_names("acme", "desk", after_sku="C-3", scan=3).scanned_to is None
        assert uow.products.search_names("acme", "desk", after_sku="F-6").scanned_to is None
