"""The products use case's name search: the page cursor after a full page, after a scan that
stopped short, and at the catalog's end; a blank or over-long search is refused."""

from __future__ import annotations

import io

import pytest

from partner_ingest.adapters_in import bootstrap
from partner_ingest.domain.model.errors import InvalidError
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.use_cases import FeedSubmission, read_imports
from partner_ingest.domain.use_cases.read_imports import MAX_NAME_SEARCH

ITEMS = 12


@pytest.fixture
def app() -> bootstrap.Application:
    built, _, clock = bootstrap.in_memory()
    with built.uow() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    # Every third product is a "Lamp"; the rest are "Chair"s.
    lines = [
        f'{{"sku": "S-{i:02d}", "name": "{"Lamp" if i % 3 == 0 else "Chair"} {i}", "price": 1, "currency": "EUR", "quantity": 1}}'
        for i in range(ITEMS)
    ]
    built.ingest(
        FeedSubmission(
            partner_id="acme", body=io.BytesIO("\n".join(lines).encode()), media_type="application/x-ndjson"
        )
    )
    return built


def test_a_full_page_goes_on_after_its_last_product(app: bootstrap.Application) -> None:
    first = app.products.search_names("acme", "chair", limit=3)
    assert [p.sku for p in first.products] == ["S-01", "S-02", "S-04"]
    assert (first.next_after, first.searched_to) == ("S-04", None)
    rest = app.products.search_names("acme", "CHAIR", after_sku=first.next_after, limit=100)
    assert [p.sku for p in rest.products] == ["S-05", "S-07", "S-08", "S-10", "S-11"]
    assert (rest.next_after, rest.searched_to) == (None, None)  # the catalog's end: nothing further


def test_a_scan_stopping_short_says_how_far_it_searched(
    app: bootstrap.Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_imports, "NAME_SEARCH_SCAN", 4)  # S-00 .. S-03 per call
    found = app.products.search_names("acme", "lamp", limit=50)
    assert [p.sku for p in found.products] == ["S-00", "S-03"]
    assert (found.next_after, found.searched_to) == ("S-03", "S-03")
    following = app.products.search_names("acme", "lamp", after_sku=found.next_after, limit=50)
    assert [p.sku for p in following.products] == ["S-06"] and following.searched_to == "S-07"


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_NAME_SEARCH + 1)])
def test_a_blank_or_over_long_name_search_is_refused(app: bootstrap.Application, text: str) -> None:
    with pytest.raises(InvalidError, match="name search"):
        app.products.search_names("acme", text)
