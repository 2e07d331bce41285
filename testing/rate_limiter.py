"""The rate-limiter contract suite: every limiter (in-process, Redis, yours) behaves the same.

Enable it by subclassing `RateLimiterContract` in a test module, with a
`rate_limiter_under_test` fixture (conftest.py) that yields a `LimiterUnderTest`: a fresh
limiter (no key counted or blocked yet) and how to let its time pass. A limiter on a clock
you control passes the suite instantly; one on a real clock (a server's) is waited for
with `time.sleep`, so its windows here are short (under a second) and `EPSILON` is the
slack allowed for a round trip. This repository runs the same class over its two limiters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs
import pytest

from partner_ingest.ports.rate_limit import RateLimiter

__all__ = ["EPSILON", "ROUNDING", "LimiterUnderTest", "RateLimiterContract"]

EPSILON = 0.03
"""Slack for real waits on a real clock (a round trip, a scheduler hiccup)."""
ROUNDING = 1e-9
"""Slack for float arithmetic on a clock far from zero (1000.1 - 1000.0 exceeds 0.1)."""


@attrs.frozen
class LimiterUnderTest:
    """A limiter under test and a way to let its time pass (`time.sleep` on a real clock)."""

    limiter: RateLimiter
    wait: Callable[[float], object] = time.sleep
    name: str = "limiter"


class RateLimiterContract:
    """The rate-limiter contract, over the `rate_limiter_under_test` fixture."""

    def test_allows_up_to_the_limit_then_refuses(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        limiter = rate_limiter_under_test.limiter
        decisions = [limiter.hit("k", 3, 1.0) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert all(d.limit == 3 and not d.degraded for d in decisions)
        assert all(d.retry_after == 0 for d in decisions[:3])
        refused = decisions[3]
        assert 0 < refused.retry_after <= 1.0 + ROUNDING
        assert 0 < refused.reset_after <= 1.0 + ROUNDING
        assert 0 < decisions[0].reset_after <= 1.0 + ROUNDING

    def test_room_comes_back_as_the_window_slides(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        limiter, wait = rate_limiter_under_test.limiter, rate_limiter_under_test.wait
        window = 0.6
        assert limiter.hit("k", 2, window).allowed  # t = 0
        wait(0.3)
        assert limiter.hit("k", 2, window).allowed  # t = 0.3
        refused = limiter.hit("k", 2, window)
        assert not refused.allowed
        assert refused.retry_after == pytest.approx(0.3, abs=EPSILON + 0.02)
        wait(refused.retry_after + EPSILON)  # the first hit has left; the second has not
        assert limiter.hit("k", 2, window).allowed
        assert not limiter.hit("k", 2, window).allowed

    def test_refused_hits_are_not_counted(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        limiter = rate_limiter_under_test.limiter
        for _ in range(2):
            assert limiter.hit("k", 2, 0.4).allowed
        for _ in range(5):
            assert not limiter.hit("k", 2, 0.4).allowed
        rate_limiter_under_test.wait(0.4 + EPSILON)
        assert [limiter.hit("k", 2, 0.4).allowed for _ in range(3)] == [True, True, False]

    def test_keys_are_counted_apart(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        limiter = rate_limiter_under_test.limiter
        assert limiter.hit("a", 1, 5.0).allowed
        assert not limiter.hit("a", 1, 5.0).allowed
        assert limiter.hit("b", 1, 5.0).allowed
        assert limiter.hit("auth-fail:192.0.2.1", 1, 5.0).allowed

    def test_a_lowered_limit_applies_at_once(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        limiter = rate_limiter_under_test.limiter
        for _ in range(5):
            assert limiter.hit("k", 10, 5.0).allowed
        refused = limiter.hit("k", 3, 5.0)
        assert not refused.allowed
        assert refused.remaining == 0

    def test_a_key_that_was_never_blocked_is_not_blocked(
        self, rate_limiter_under_test: LimiterUnderTest
    ) -> None:
        assert rate_limiter_under_test.limiter.blocked_for("nobody") == 0

    def test_blocks_double_within_the_forget_period_up_to_the_max(
        self, rate_limiter_under_test: LimiterUnderTest
    ) -> None:
        limiter, wait = rate_limiter_under_test.limiter, rate_limiter_under_test.wait
        base, cap, forget = 0.1, 0.3, 0.5
        assert limiter.block("b", base, cap, forget) == pytest.approx(base)
        assert 0 < limiter.blocked_for("b") <= base + ROUNDING
        assert limiter.block("b", base, cap, forget) <= base + ROUNDING  # already blocked: no escalation
        wait(base + EPSILON)
        assert limiter.blocked_for("b") == 0
        assert limiter.block("b", base, cap, forget) == pytest.approx(2 * base)
        wait(2 * base + EPSILON)
        assert limiter.block("b", base, cap, forget) == pytest.approx(cap)  # 4 * base, capped
        wait(cap + forget + EPSILON)
        assert limiter.block("b", base, cap, forget) == pytest.approx(base)  # forgotten
        assert limiter.blocked_for("other") == 0

    def test_nonsense_arguments_are_refused(self, rate_limiter_under_test: LimiterUnderTest) -> None:
        with pytest.raises(ValueError, match="positive"):
            rate_limiter_under_test.limiter.hit("k", 0, 1.0)
        with pytest.raises(ValueError, match="positive"):
            rate_limiter_under_test.limiter.hit("k", 1, 0)
        with pytest.raises(ValueError, match="positive"):
            rate_limiter_under_test.limiter.block("k", 0, 1.0)

    def test_concurrent_threads_never_exceed_the_limit(
        self, rate_limiter_under_test: LimiterUnderTest
    ) -> None:
        limiter = rate_limiter_under_test.limiter
        allowed: list[bool] = []
        lock = threading.Lock()
        start = threading.Barrier(16)

        def worker() -> None:
            start.wait()
            mine = [limiter.hit("hot", 50, 60.0).allowed for _ in range(25)]
            with lock:
                allowed.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(allowed) == 16 * 25
        assert sum(allowed) == 50
