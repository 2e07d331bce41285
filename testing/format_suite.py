"""The format conformance kit as a pytest suite: `FeedFormatContract`.

Enable it by subclassing it in a test module, with a `feed_format_under_test` fixture
(conftest.py) returning your `FeedFormat`:

    class TestMyFormat(FeedFormatContract):
        pass

Each test is one of the checks of `partner_ingest.testing.formats` (which `check_feed_format`
runs all at once), so a failure names the check that failed.
"""

from __future__ import annotations

import io

from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.plugins.registry import FormatRegistry, InvalidFormatError
from partner_ingest.ports.formats import FeedFormat

from .formats import assert_parses_lazily, assert_round_trips, check_feed_format, example_products

__all__ = ["FeedFormatContract"]


class FeedFormatContract:
    """The format conformance checks, over the `feed_format_under_test` fixture."""

    def test_the_registry_accepts_it(self, feed_format_under_test: FeedFormat) -> None:
        try:
            FormatRegistry().register(feed_format_under_test, plugin="FeedFormatContract")
        except InvalidFormatError as error:
            raise AssertionError(str(error)) from error

    def test_the_example_products_round_trip(self, feed_format_under_test: FeedFormat) -> None:
        assert_round_trips(feed_format_under_test, example_products(feed_format_under_test.version))

    def test_they_round_trip_read_a_few_bytes_at_a_time(self, feed_format_under_test: FeedFormat) -> None:
        products = example_products(feed_format_under_test.version)
        assert_round_trips(feed_format_under_test, products, trickle=True)

    def test_parse_returns_an_iterator(self, feed_format_under_test: FeedFormat) -> None:
        document = feed_format_under_test.render(example_products(feed_format_under_test.version)[:1])
        parsed = feed_format_under_test.parse(io.BytesIO(document), FeedLimits())
        assert iter(parsed) is parsed, f"parse() must return an iterator, not a {type(parsed).__name__}"

    def test_the_first_item_comes_before_the_end_of_the_stream(
        self, feed_format_under_test: FeedFormat
    ) -> None:
        assert_parses_lazily(feed_format_under_test)

    def test_all_standard_checks(self, feed_format_under_test: FeedFormat) -> None:
        """Locations and cut documents too: what `check_feed_format` checks, in one go."""
        check_feed_format(feed_format_under_test)
