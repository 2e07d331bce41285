"""`sku_array` keeps the last array it made: what it answers must still be the array of the
SKUs it is given now, whatever happened to the list it was given before."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.adapters_out.sqlite.changes import sku_array
from partner_ingest.adapters_out.sqlite.products import null_columns


@given(first=st.lists(st.text()), second=st.lists(st.text()))
def test_the_array_is_of_the_skus_given_now(first: list[str], second: list[str]) -> None:
    assert sku_array(first) == json.dumps(first)
    assert sku_array(first) == json.dumps(first)  # kept
    assert sku_array(second) == json.dumps(second)


def test_a_list_changed_after_its_array_was_made_gets_a_new_array() -> None:
    skus = ["A-1", "A-2"]
    assert sku_array(skus) == '["A-1", "A-2"]'
    skus.append("A-3")
    assert sku_array(skus) == '["A-1", "A-2", "A-3"]'
    skus[0] = "B-1"
    assert sku_array(skus) == '["B-1", "A-2", "A-3"]'


_CELL = st.none() | st.just("") | st.just(0) | st.text(max_size=2) | st.integers(-1, 1)


@given(rows=st.lists(st.tuples(*[_CELL] * 19), min_size=1, max_size=30))
def test_null_columns_are_those_none_in_every_row(rows: list[tuple[object, ...]]) -> None:
    expected = {p for p in range(6, 19) if all(row[p] is None for row in rows)}
    assert null_columns(rows) == expected  # type: ignore[arg-type]
