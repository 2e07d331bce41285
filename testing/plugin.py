"""The pytest plugin of the kits, loaded by pytest through the `pytest11` entry point.

It is loaded in every pytest run of an environment where this distribution is installed,
so it only registers the suites for assert rewriting (their failures then show the values
compared) and offers the fixtures the suites need as placeholders that say what to provide:
a conftest.py fixture of the same name replaces them. It imports no suite and no store.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

__all__ = ["feed_format_under_test", "rate_limiter_under_test", "store_under_test"]

# Before any test module imports them: rewriting applies at import.
pytest.register_assert_rewrite(
    "partner_ingest.testing.storage",
    "partner_ingest.testing.rate_limiter",
    "partner_ingest.testing.format_suite",
)


def _missing(fixture: str, what: str) -> NoReturn:
    pytest.fail(
        f"the partner_ingest kit needs a `{fixture}` fixture: define it in your conftest.py, "
        f"yielding {what} (see partner_ingest.testing)",
        pytrace=False,
    )


@pytest.fixture
def store_under_test() -> object:
    """Replace with a fixture yielding your store, fresh and empty for each test."""
    _missing("store_under_test", "a fresh, empty store (a StoreUnderTest)")


@pytest.fixture
def rate_limiter_under_test() -> object:
    """Replace with a fixture yielding a `LimiterUnderTest` (your limiter and how time passes)."""
    _missing("rate_limiter_under_test", "a LimiterUnderTest(limiter, wait)")


@pytest.fixture
def feed_format_under_test() -> object:
    """Replace with a fixture returning your `FeedFormat`."""
    _missing("feed_format_under_test", "your FeedFormat")
