"""The RateLimiter contract, written once and run against every implementation (ADR 0015).

The contract is the kit shipped to embedders (`partner_ingest.testing.rate_limiter`,
ADR 0031); this module runs that one copy over both of our limiters.

The in-process limiter runs on a fake clock (waiting is instant); the Redis one on
the Redis server's own clock, so its waits are real and its windows short. Redis
tests need PARTNER_INGEST_TEST_REDIS_URL (CI: redis://127.0.0.1:6379/0); each run
writes under its own random prefix and deletes its keys at the end.

Below the shared contract: what only one implementation promises (bounded memory,
keys that expire on their own, the failure policy when Redis is unreachable).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.examples import examples
from support.redis import redis_prefix as shared_redis_prefix

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.ports.rate_limit import FailurePolicy
from partner_ingest.testing.rate_limiter import LimiterUnderTest, RateLimiterContract

if TYPE_CHECKING:  # redis-py is an extra: without it only the Redis tests are skipped
    from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

REDIS_URL = os.environ.get("PARTNER_INGEST_TEST_REDIS_URL")
NEEDS_REDIS = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to test the Redis rate limiter"
    ),
]


def _redis_limiter(prefix: str, on_error: FailurePolicy = FailurePolicy.CLOSED) -> RedisRateLimiter:
    from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

    assert REDIS_URL is not None
    return RedisRateLimiter.from_url(REDIS_URL, prefix, on_error=on_error, timeout=2.0)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A prefix of its own for one test; every key under it is deleted afterwards."""
    assert REDIS_URL is not None
    with shared_redis_prefix(REDIS_URL) as prefix:
        yield prefix


@pytest.fixture(params=[pytest.param("memory"), pytest.param("redis", marks=NEEDS_REDIS)])
def rate_limiter_under_test(request: pytest.FixtureRequest) -> Iterator[LimiterUnderTest]:
    """The kit's fixture: the in-process limiter on a fake clock, the Redis one on its own."""
    if request.param == "memory":
        clock = FakeClock()
        yield LimiterUnderTest(InProcessRateLimiter(clock), lambda seconds: clock.advance(seconds), "memory")
        return
    prefix = request.getfixturevalue("redis_prefix")
    limiter = _redis_limiter(prefix)
    yield LimiterUnderTest(limiter, time.sleep, "redis")
    limiter.close()


class TestRateLimiterContract(RateLimiterContract):
    """The rate-limiter kit (`partner_ingest.testing.rate_limiter`) over our two limiters."""


# --- the in-process limiter ---------------------------------------------------------


@settings(max_examples=examples(60))
@given(
    st.integers(1, 5),
    st.sampled_from([1.0, 2.5, 10.0]),
    st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0, 2.0]), min_size=1, max_size=60),
)
@example(1, 1.0, [0.05, 1.0, 1.0])  # 0.05 + 1.0 + 1.0 - 1.0 rounds below 1.05: a wait of 0.0 once
def test_memory_at_most_limit_hits_in_any_window(limit: int, window: float, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    allowed_at: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        decision = limiter.hit("k", limit, window)
        if decision.allowed:
            allowed_at.append(clock.monotonic())
        else:
            # Refused only when the window really is full (a hit leaves it when hit + window <= now).
            assert sum(1 for t in allowed_at if t + window > clock.monotonic()) >= limit
            assert decision.retry_after > 0
    for start in allowed_at:
        assert sum(1 for t in allowed_at if start <= t < start + window) <= limit


def test_memory_idle_keys_are_dropped() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    for n in range(1000):
        limiter.hit(f"client-{n}", 10, 60.0)
        limiter.block(f"block-{n}", 1.0, 2.0, 10.0)
    assert limiter.tracked_keys == 2000
    clock.advance(61)
    limiter.hit("fresh", 10, 60.0)
    assert limiter.tracked_keys == 1001  # the idle logs went on the next call
    limiter.sweep()
    assert limiter.tracked_keys == 1  # the blocks after their forget period


def test_memory_is_bounded_by_max_keys() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock, max_keys=100, sweep_every=50)
    for n in range(10_000):
        limiter.hit(f"client-{n}", 10, 60.0)
        limiter.block(f"block-{n}", 60.0, 120.0)
    assert limiter.tracked_keys <= 100 + 100 + 50
    # The most recent ones are kept.
    assert not limiter.hit("client-9999", 1, 60.0).allowed
    assert limiter.blocked_for("block-9999") > 0


# --- the Redis limiter ---------------------------------------------------------------

_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

    url, prefix, limit, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    limiter = RedisRateLimiter.from_url(url, prefix, timeout=5.0)
    limiter.blocked_for("warm-up")  # connect before the start line
    time.sleep(max(0.0, start_at - time.time()))  # both processes start together
    counts = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work():
        start.wait()
        mine = sum(limiter.hit("hot", limit, 60.0).allowed for _ in range(40))
        with lock:
            counts.append(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(sum(counts)))
    """
)


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to test the Redis rate limiter")
def test_redis_two_processes_never_exceed_the_limit_together(redis_prefix: str) -> None:
    assert REDIS_URL is not None
    start_at = str(time.time() + 1.5)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_SCRIPT, REDIS_URL, redis_prefix, "100", start_at],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    allowed = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        allowed.append(json.loads(out))
    # 2 processes x 4 threads x 40 hits = 320 attempts within one window.
    assert sum(allowed) == 100


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to test the Redis rate limiter")
def test_redis_keys_carry_the_prefix_and_expire_on_their_own(redis_prefix: str) -> None:
    import redis

    assert REDIS_URL is not None
    limiter = _redis_limiter(redis_prefix)
    limiter.hit("k", 5, 2.0)
    limiter.block("b", 1.0, 4.0, 10.0)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{redis_prefix}:*"))
        assert keys == [f"{redis_prefix}:block:b", f"{redis_prefix}:hits:k"]
        assert 0 < client.pttl(f"{redis_prefix}:hits:k") <= 2001
        assert 10_000 < client.pttl(f"{redis_prefix}:block:b") <= 11_001
    finally:
        client.close()
        limiter.close()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to test the Redis rate limiter")
def test_redis_prefixes_keep_deployments_apart(redis_prefix: str) -> None:
    first = _redis_limiter(redis_prefix)
    second = _redis_limiter(f"{redis_prefix}:other")
    assert first.hit("k", 1, 5.0).allowed
    assert second.hit("k", 1, 5.0).allowed
    assert not first.hit("k", 1, 5.0).allowed


# --- Redis unreachable: the failure policy --------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unreachable(on_error: FailurePolicy) -> RedisRateLimiter:
    from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

    return RedisRateLimiter.from_url(
        f"redis://127.0.0.1:{_closed_port()}/0", "unreachable", on_error=on_error
    )


def test_unreachable_redis_failing_closed_denies_and_blocks() -> None:
    limiter = _unreachable(FailurePolicy.CLOSED)
    started = time.monotonic()
    decision = limiter.hit("k", 10, 60.0)
    assert not decision.allowed
    assert decision.degraded
    assert decision.retry_after == 5.0
    assert limiter.blocked_for("k") == 5.0
    assert limiter.block("k", 60.0, 120.0) == 5.0
    assert not limiter.available
    assert time.monotonic() - started < 1.0  # no retries, no waiting on the request path


def test_unreachable_redis_failing_open_allows_and_says_so() -> None:
    limiter = _unreachable(FailurePolicy.OPEN)
    decision = limiter.hit("k", 10, 60.0)
    assert decision.allowed
    assert decision.degraded
    assert decision.remaining == 10
    assert limiter.blocked_for("k") == 0
    assert limiter.block("k", 60.0, 120.0) == 0


def test_the_guard_fails_closed_on_failures_and_open_on_quotas_when_redis_is_down() -> None:
    import secrets

    from partner_ingest.domain.model.api_keys import KeyRole
    from partner_ingest.domain.model.partner import Partner
    from partner_ingest.domain.use_cases.access_errors import LimiterUnavailable
    from partner_ingest.domain.use_cases.authenticate import AccessGuard, Granted
    from partner_ingest.domain.use_cases.manage_keys import ManageKeys

    store, clock, server_secret = InMemoryStore(), FakeClock(), b"r" * 32
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    keys = ManageKeys(
        store.unit_of_work, clock, server_secret=server_secret, random_bytes=secrets.token_bytes
    )
    plaintext = keys.create(
        KeyRole.PARTNER, "acme", actor="system", expires_at=clock.now() + timedelta(days=1)
    )
    down_closed = _unreachable(FailurePolicy.CLOSED)

    # As documented: failures fail closed, so nobody authenticates while Redis is down, and the
    # answer says the service is unavailable (503), not that the client is to blame (429) ...
    guard = AccessGuard(store.unit_of_work, store.audit_log, clock, down_closed, server_secret=server_secret)
    assert isinstance(guard.decide(plaintext.plaintext, "192.0.2.1"), LimiterUnavailable)

    # ... while quotas alone failing open let valid keys through, flagged.
    healthy_failures = InProcessRateLimiter(clock)
    guard = AccessGuard(
        store.unit_of_work,
        store.audit_log,
        clock,
        healthy_failures,
        server_secret=server_secret,
        quotas=down_closed.with_policy(FailurePolicy.OPEN),
    )
    granted = guard.decide(plaintext.plaintext, "192.0.2.1")
    assert isinstance(granted, Granted)
    assert granted.rate.degraded
