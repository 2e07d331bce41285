"""The built-in formats pass the same standard checks a third-party format must pass."""

from __future__ import annotations

import pytest

from partner_ingest.plugins import load_formats
from partner_ingest.plugins.testing import check_feed_format
from partner_ingest.ports.formats import FeedFormat

BUILT_IN = load_formats(entry_points=False).all()


def test_every_built_in_format_and_version_is_there() -> None:
    keys = {(f.name, f.version) for f in BUILT_IN}
    assert keys == {(name, version) for name in ("csv", "json", "jsonl", "xml") for version in (1, 2)}


@pytest.mark.parametrize("feed_format", BUILT_IN, ids=lambda f: f"{f.name}-v{f.version}")
def test_a_built_in_format_passes_the_plugin_author_checks(feed_format: FeedFormat) -> None:
    check_feed_format(feed_format)
