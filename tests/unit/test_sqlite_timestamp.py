"""The stored time of a moment: made from a cached second, it is the text isoformat writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from partner_ingest.adapters_out.sqlite.connection import from_timestamp, timestamp


def _reference(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


EDGES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2026, 12, 7, 5, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 12, 7, 6, 0, 0, tzinfo=UTC),
    # Either side of 2**33 seconds, where the POSIX time's float stops telling the second.
    datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=2**33 - 1, microseconds=999_999),
    datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=2**33),
    datetime(1970, 1, 1, tzinfo=UTC) - timedelta(seconds=2**33, microseconds=1),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", EDGES)
def test_a_moment_at_an_edge_is_stored_as_isoformat_writes_it(moment: datetime) -> None:
    assert timestamp(moment) == _reference(moment)
    assert from_timestamp(timestamp(moment)) == moment


def test_moments_in_and_across_seconds_are_stored_as_isoformat_writes_them() -> None:
    chance = random.Random(7)
    start = datetime(2026, 12, 7, 5, 59, 58, tzinfo=UTC)
    moments = [start + timedelta(microseconds=step * 997) for step in range(5000)]
    moments += [
        datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=chance.randrange(315_537_897_600_000_000))
        for _ in range(5000)
    ]
    moments += [moment.astimezone(timezone(timedelta(hours=5, minutes=30))) for moment in moments[:100]]
    for moment in moments:
        assert timestamp(moment) == _reference(moment)
