"""Stored JSON text: the standard encoder's fast path writes exactly what `jsontext` writes; a report's counts in full."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.adapters_out.sql._json import dump_json
from partner_ingest.domain.model import jsontext


class Colour(StrEnum):
    RED = "red"


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC))
    | st.just(Colour.RED)
)
_documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _documents, max_size=6))
def test_the_fast_path_writes_what_the_exact_writer_writes(document: dict[str, object]) -> None:
    assert dump_json(document) == jsontext.dumps(document)


def test_a_decimal_keeps_every_digit_and_a_time_is_iso_8601() -> None:
    at = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    assert dump_json({"price": Decimal("19.990"), "at": at, "name": "Café"}) == (
        '{"price":19.990,"at":"2026-12-06T20:00:00+00:00","name":"Caf\\u00e9"}'
    )


def test_a_number_without_a_json_form_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON"):
        dump_json({"ratio": float("nan")})
    with pytest.raises(ValueError, match="JSON"):
        dump_json({"price": Decimal("NaN")})


def test_a_reports_counts_name_every_field_of_the_counts() -> None:
    from partner_ingest.domain.model.report import IngestCounts

    counts = IngestCounts(*range(1, len(attrs.fields(IngestCounts)) + 1))
    assert counts.to_json() == attrs.asdict(counts)
    assert IngestCounts(**counts.to_json()) == counts
