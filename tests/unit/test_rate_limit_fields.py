"""The RateLimit fields and Retry-After say whole seconds that never exceed what the limiter meant."""

from __future__ import annotations

import pytest

from partner_ingest.adapters_in.http.auth import rate_limit_values, retry_after
from partner_ingest.ports.rate_limit import RateDecision

# A first hit at this monotonic time resets (now + 60) - now = 60.00000000000001 s later.
NOW = 55.635848
FIRST_HIT_RESET = (NOW + 60) - NOW


def test_a_first_hits_reset_is_the_window_not_a_second_more() -> None:
    assert FIRST_HIT_RESET > 60  # the float noise this guards against
    decision = RateDecision(allowed=True, limit=5, remaining=4, reset_after=FIRST_HIT_RESET)
    assert rate_limit_values(decision) == ('"key";q=5;w=60', '"key";r=4;t=60')


@pytest.mark.parametrize(
    ("seconds", "header"),
    [(FIRST_HIT_RESET, "60"), (59.2, "60"), (60.5, "61"), (0.0004, "1"), (0.0, "1")],
)
def test_retry_after_rounds_up_to_whole_seconds_past_float_noise(seconds: float, header: str) -> None:
    assert retry_after(seconds) == header
