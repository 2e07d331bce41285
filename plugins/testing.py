"""The format conformance kit, under the name plugin authors have imported since the start.

It lives in `partner_ingest.testing.formats` with the other kits (ADR 0031); this module
stays so that `from partner_ingest.plugins.testing import check_feed_format` keeps working.
"""

from __future__ import annotations

from partner_ingest.testing.formats import (
    RecordingStream,
    TrickleStream,
    assert_parses_lazily,
    assert_round_trips,
    check_feed_format,
    example_products,
    parse_all,
)

__all__ = [
    "RecordingStream",
    "TrickleStream",
    "assert_parses_lazily",
    "assert_round_trips",
    "check_feed_format",
    "example_products",
    "parse_all",
]
