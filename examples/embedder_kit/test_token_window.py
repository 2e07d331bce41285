"""Our limiter, held to partner-catalog-ingest's rate-limiter contract.

The kit is installed with the library (its pytest plugin loads by itself); a test module
enables it by subclassing the suite and providing the fixture it runs over.
"""

from __future__ import annotations

import pytest
from token_window import TokenWindowLimiter

from partner_ingest.testing.rate_limiter import LimiterUnderTest, RateLimiterContract


class FakeTime:
    """A clock the kit moves forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rate_limiter_under_test() -> LimiterUnderTest:
    clock = FakeTime()
    return LimiterUnderTest(TokenWindowLimiter(clock), wait=clock.advance, name="token-window")


class TestTokenWindowLimiter(RateLimiterContract):
    """Every test of the contract, over our limiter."""
