"""A report answered by PlainJsonResponse is the same bytes JsonResponse writes for it."""

from __future__ import annotations

import pytest

from partner_ingest.adapters_in.http.views import JsonResponse, PlainJsonResponse
from partner_ingest.domain.model.report import (
    ErrorCode,
    FeedError,
    FeedStatus,
    IngestCounts,
    IngestReport,
    ItemError,
    Location,
)

_AWKWARD = 'Café "crème" \\ </script> \x00\x01\x1f\x7f \t\n\r\b\f \u2028\u2029 😀 ünïcode'


def _reports() -> list[IngestReport]:
    accepted = IngestReport(
        feed_id="feed_0123456789abcdef",
        partner_id="bench",
        format="json",
        version=2,
        status=FeedStatus.ACCEPTED,
        counts=IngestCounts(received=10, created=7, updated=2, unchanged=1),
    )
    partial = IngestReport(
        feed_id="feed_1",
        partner_id="acmé",
        format="csv",
        version=1,
        status=FeedStatus.PARTIAL,
        counts=IngestCounts(received=3, created=1, rejected=2),
        errors=(
            ItemError(
                0,
                _AWKWARD,
                "price",
                ErrorCode.TYPE,
                _AWKWARD,
                Location(pointer="/products/0/price", offset=12),
            ),
            ItemError(2, None, "", ErrorCode.MISSING, "no sku", Location(line=4, column=1), hint=_AWKWARD),
        ),
        errors_total=5,
        warnings=("version 1 is deprecated", _AWKWARD),
    )
    rejected = IngestReport(
        feed_id="feed_2",
        partner_id="p",
        format="xml",
        version=3,
        status=FeedStatus.REJECTED,
        counts=IngestCounts(received=-1, retired=2**70),
        feed_error=FeedError(ErrorCode.TYPE, _AWKWARD, Location(line=1, column=2, offset=3), hint="h"),
        dry_run=True,
    )
    return [accepted, partial, rejected]


@pytest.mark.parametrize("report", _reports(), ids=["accepted", "partial", "rejected"])
def test_a_report_is_the_same_bytes_either_way(report: IngestReport) -> None:
    headers = {"Content-Location": "/partner/imports/feed_1"}
    plain = PlainJsonResponse(report.to_json(), status_code=202, headers=headers)
    general = JsonResponse(report.to_json(), status_code=202, headers=headers)
    assert plain.body == general.body
    assert plain.raw_headers == general.raw_headers


def test_a_value_msgspec_refuses_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        JsonResponse({"sku": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        PlainJsonResponse({"sku": "\ud800"})


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, None),
        (202, {"Deprecation": "@1700000000", "Sunset": "Wed, 01 Jan 2031 00:00:00 GMT"}),
        (204, None),
        (200, {"Content-Type": "application/problem+json"}),
        (200, {"content-length": "2"}),
    ],
)
def test_the_headers_are_the_ones_starlette_makes(status: int, headers: dict[str, str] | None) -> None:
    plain = PlainJsonResponse({"a": 1}, status_code=status, headers=headers)
    general = JsonResponse({"a": 1}, status_code=status, headers=headers)
    assert plain.raw_headers == general.raw_headers
