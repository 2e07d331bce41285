"""The format conformance kit (`partner_ingest.testing.formats`, ADR 0031) catches a format
that reads the whole stream before its first item, and runs as a pytest suite
(`FeedFormatContract`) over a format as it runs over a plugin author's."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import attrs
import pytest

import partner_ingest.plugins.testing as first_name
import partner_ingest.testing.formats as kit
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.plugins.csv_feed import CsvFeed
from partner_ingest.plugins.json_feed import JsonFeed
from partner_ingest.ports.formats import FeedFormat, RawItem
from partner_ingest.testing.format_suite import FeedFormatContract


@attrs.frozen
class GreedyCsv(CsvFeed):
    """A plugin with the bug the kit looks for: correct items, but only once it has read the
    stream to its end (a whole feed in memory before the first product is stored)."""

    name: str = "greedy-csv"

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        whole = stream.read()
        yield from list(super().parse(io.BytesIO(whole), limits))


def test_a_format_that_reads_the_whole_stream_before_its_first_item_fails_the_kit() -> None:
    greedy = GreedyCsv(version=1)
    kit.assert_round_trips(greedy, kit.example_products(1))  # its items are right ...
    with pytest.raises(AssertionError, match=r"read the whole document .* before yielding its first item"):
        kit.assert_parses_lazily(greedy)  # ... but it does not stream
    with pytest.raises(AssertionError, match="before yielding its first item"):
        kit.check_feed_format(greedy)


@pytest.mark.parametrize("feed_format", [CsvFeed(version=1), JsonFeed(version=2)], ids=["csv-v1", "json-v2"])
def test_a_streaming_format_has_read_a_fraction_of_the_document_at_its_first_item(
    feed_format: FeedFormat,
) -> None:
    products = kit.example_products(feed_format.version)
    many = [attrs.evolve(p, sku=f"{p.sku}-{n}") for n in range(2000) for p in products]
    document = feed_format.render(many)
    stream = kit.RecordingStream(document)
    first = next(iter(feed_format.parse(stream, kit.LAZY_LIMITS)))  # type: ignore[arg-type]
    assert first is not None
    assert len(document) > kit.LAZY_DOCUMENT_BYTES
    assert stream.consumed <= kit.LAZY_LIMITS.max_item_bytes + 8 * 1024 < len(document)


def test_the_kit_keeps_its_first_name() -> None:
    for name in first_name.__all__:
        assert getattr(first_name, name) is getattr(kit, name)


@pytest.fixture(params=[CsvFeed(version=1), JsonFeed(version=2)], ids=["csv-v1", "json-v2"])
def feed_format_under_test(request: pytest.FixtureRequest) -> FeedFormat:
    format_: FeedFormat = request.param
    return format_


class TestFeedFormatKit(FeedFormatContract):
    """The kit's suite over two built-in formats, as a plugin author runs it over theirs."""
