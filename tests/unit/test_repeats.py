"""record_repeats, the rule behind every feed SKU register: the positions a plain loop finds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.domain.model.repeats import record_repeats

SKUS = st.lists(st.sampled_from(["A", "B", "C", "D", "E", "F"]), max_size=8)


def _plainly(seen: set[str], skus: list[str]) -> list[int]:
    out = []
    for position, sku in enumerate(skus):
        if sku in seen:
            out.append(position)
        seen.add(sku)
    return out


@given(batches=st.lists(SKUS, max_size=6))
def test_repeats_are_the_positions_a_plain_loop_finds(batches: list[list[str]]) -> None:
    seen: set[str] = set()
    expected: set[str] = set()
    for batch in batches:
        assert record_repeats(seen, batch) == _plainly(expected, batch)
        assert seen == expected
