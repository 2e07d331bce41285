"""The per-endpoint circuit breaker (ADR 0014), on a fake clock and a scripted fake fetcher."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

import pytest

from partner_ingest.adapters_out.fetcher.circuit_breaker import (
    CircuitBreakerFetcher,
    CircuitSnapshot,
    CircuitState,
    Verdict,
    endpoint_of,
    judge,
)
from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.ports.fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult

A = "https://feeds.acme.example/catalog.json?token=abc"
B = "http://partner-b.example:8080/feed"


class ScriptedFetcher:
    """A fake `FeedFetcher`: answers each call with the next scripted outcome (default FETCHED)."""

    def __init__(self, script: Iterable[FetchOutcome | tuple[FetchOutcome, int]] = ()) -> None:
        self.script: deque[FetchOutcome | tuple[FetchOutcome, int]] = deque(script)
        self.calls: list[str] = []

    def then(self, *steps: FetchOutcome | tuple[FetchOutcome, int]) -> ScriptedFetcher:
        self.script.extend(steps)
        return self

    def fetch(self, request: FetchRequest) -> FetchResult:
        self.calls.append(request.url)
        step = self.script.popleft() if self.script else FetchOutcome.FETCHED
        outcome, status = step if isinstance(step, tuple) else (step, None)
        return FetchResult(outcome, host="fake", status=status)


def breaker(
    inner: ScriptedFetcher, clock: FakeClock, threshold: int = 3, reset_after: float = 60.0
) -> CircuitBreakerFetcher:
    return CircuitBreakerFetcher(inner, clock, failure_threshold=threshold, reset_after=reset_after)


def fetch(fetcher: FeedFetcher, url: str = A) -> FetchOutcome:
    return fetcher.fetch(FetchRequest(url=url)).outcome


def test_it_implements_the_port() -> None:
    fetcher: FeedFetcher = breaker(ScriptedFetcher(), FakeClock())
    assert fetch(fetcher) is FetchOutcome.FETCHED


def test_closed_circuits_pass_everything_through() -> None:
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT, FetchOutcome.TIMEOUT])
    fetcher = breaker(inner, FakeClock())
    assert [fetch(fetcher) for _ in range(4)] == [
        FetchOutcome.TIMEOUT,
        FetchOutcome.TIMEOUT,
        FetchOutcome.FETCHED,
        FetchOutcome.FETCHED,
    ]
    assert len(inner.calls) == 4
    assert fetcher.states()[endpoint_of(A) or ""].state is CircuitState.CLOSED


def test_a_run_of_failures_opens_the_circuit_and_stops_calling_the_endpoint() -> None:
    inner = ScriptedFetcher([FetchOutcome.CONNECTION_ERROR] * 3)
    fetcher = breaker(inner, FakeClock())
    assert [fetch(fetcher) for _ in range(3)] == [FetchOutcome.CONNECTION_ERROR] * 3
    result = fetcher.fetch(FetchRequest(url=A))
    assert result.outcome is FetchOutcome.CIRCUIT_OPEN
    assert result.host == "feeds.acme.example"
    assert "https://feeds.acme.example:443" in result.detail
    assert "3 consecutive failures" in result.detail
    assert "token" not in result.detail  # never the query
    assert len(inner.calls) == 3


def test_a_success_resets_the_run() -> None:
    inner = ScriptedFetcher(
        [FetchOutcome.TIMEOUT, FetchOutcome.TIMEOUT, FetchOutcome.FETCHED, FetchOutcome.TIMEOUT]
    )
    inner.then(FetchOutcome.TIMEOUT)
    fetcher = breaker(inner, FakeClock())
    for _ in range(5):
        fetch(fetcher)
    assert fetcher.states()["https://feeds.acme.example:443"].failures == 2
    assert fetch(fetcher) is FetchOutcome.FETCHED


def test_after_reset_after_one_probe_goes_through_and_success_closes() -> None:
    clock = FakeClock()
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 3)
    fetcher = breaker(inner, clock, reset_after=60)
    for _ in range(3):
        fetch(fetcher)
    clock.advance(59)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(1)
    assert fetch(fetcher) is FetchOutcome.FETCHED  # the probe
    assert len(inner.calls) == 4
    snapshot = fetcher.states()["https://feeds.acme.example:443"]
    assert snapshot == CircuitSnapshot("https://feeds.acme.example:443", CircuitState.CLOSED, 0, None, None)
    assert fetch(fetcher) is FetchOutcome.FETCHED


def test_a_failed_probe_reopens_for_another_period() -> None:
    clock = FakeClock()
    inner = ScriptedFetcher([(FetchOutcome.HTTP_ERROR, 503)] * 4)
    fetcher = breaker(inner, clock, reset_after=60)
    for _ in range(3):
        fetch(fetcher)
    clock.advance(60)
    assert fetch(fetcher) is FetchOutcome.HTTP_ERROR  # the probe, failing
    reopened_at = clock.now()
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    snapshot = fetcher.states()["https://feeds.acme.example:443"]
    assert snapshot.state is CircuitState.OPEN
    assert snapshot.failures == 4
    assert snapshot.opened_at == reopened_at
    clock.advance(59)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(1)
    assert fetch(fetcher) is FetchOutcome.FETCHED
    assert len(inner.calls) == 5


def test_the_snapshot_tells_admins_when_the_next_probe_is_due() -> None:
    clock = FakeClock()
    fetcher = breaker(ScriptedFetcher([FetchOutcome.TIMEOUT] * 3), clock, reset_after=90)
    for _ in range(3):
        fetch(fetcher)
    opened = clock.now()
    snapshot = fetcher.states()["https://feeds.acme.example:443"]
    assert snapshot.state is CircuitState.OPEN
    assert snapshot.opened_at == opened
    assert snapshot.next_probe_at is not None
    assert (snapshot.next_probe_at - opened).total_seconds() == 90
    assert snapshot.next_probe_at.isoformat() in fetcher.fetch(FetchRequest(url=A)).detail
    clock.advance(90)
    assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.HALF_OPEN


def test_circuits_are_kept_per_endpoint() -> None:
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 3)
    fetcher = breaker(inner, FakeClock())
    for _ in range(3):
        fetch(fetcher, A)
    assert fetch(fetcher, A) is FetchOutcome.CIRCUIT_OPEN
    assert fetch(fetcher, B) is FetchOutcome.FETCHED
    assert fetch(fetcher, "https://feeds.acme.example/other-path") is FetchOutcome.CIRCUIT_OPEN
    assert fetch(fetcher, "https://FEEDS.acme.example:443/x") is FetchOutcome.CIRCUIT_OPEN
    assert fetch(fetcher, "http://feeds.acme.example/x") is FetchOutcome.FETCHED  # another port
    states = fetcher.states()
    assert states["https://feeds.acme.example:443"].state is CircuitState.OPEN
    assert states["http://partner-b.example:8080"].state is CircuitState.CLOSED
    assert states["http://feeds.acme.example:80"].state is CircuitState.CLOSED


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (FetchResult(FetchOutcome.FETCHED, "h", 200), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.NOT_MODIFIED, "h", 304), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.HTTP_ERROR, "h", 404), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.HTTP_ERROR, "h", 401), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.TOO_LARGE, "h", 200), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.BAD_CONTENT_TYPE, "h", 200), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.TOO_MANY_REDIRECTS, "h", 302), Verdict.SUCCESS),
        (FetchResult(FetchOutcome.HTTP_ERROR, "h", 500), Verdict.FAILURE),
        (FetchResult(FetchOutcome.HTTP_ERROR, "h", 503), Verdict.FAILURE),
        (FetchResult(FetchOutcome.HTTP_ERROR, "h", 429), Verdict.FAILURE),
        (FetchResult(FetchOutcome.TIMEOUT, "h"), Verdict.FAILURE),
        (FetchResult(FetchOutcome.CONNECTION_ERROR, "h"), Verdict.FAILURE),
        (FetchResult(FetchOutcome.INVALID_RESPONSE, "h", 200), Verdict.FAILURE),
        (FetchResult(FetchOutcome.REFUSED_ADDRESS, "h"), Verdict.NEUTRAL),
        (FetchResult(FetchOutcome.INVALID_REQUEST, "h"), Verdict.NEUTRAL),
        (FetchResult(FetchOutcome.CIRCUIT_OPEN, "h"), Verdict.NEUTRAL),
    ],
)
def test_what_counts_as_an_endpoint_failure(result: FetchResult, verdict: Verdict) -> None:
    assert judge(result) is verdict


def test_every_outcome_has_a_verdict() -> None:
    for outcome in FetchOutcome:
        assert judge(FetchResult(outcome, "h")) in Verdict


def test_refused_addresses_neither_count_nor_reset() -> None:
    inner = ScriptedFetcher(
        [FetchOutcome.TIMEOUT, FetchOutcome.TIMEOUT] + [FetchOutcome.REFUSED_ADDRESS] * 10
    )
    inner.then(FetchOutcome.TIMEOUT)
    fetcher = breaker(inner, FakeClock())
    outcomes = [fetch(fetcher) for _ in range(13)]
    assert outcomes.count(FetchOutcome.REFUSED_ADDRESS) == 10  # never opened by a configuration problem
    assert outcomes[-1] is FetchOutcome.TIMEOUT  # ... but the run of failures went on: 3rd failure opens
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN


def test_a_neutral_probe_leaves_the_circuit_half_open_for_the_next_call() -> None:
    clock = FakeClock()
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 3 + [FetchOutcome.REFUSED_ADDRESS])
    fetcher = breaker(inner, clock)
    for _ in range(3):
        fetch(fetcher)
    clock.advance(60)
    assert fetch(fetcher) is FetchOutcome.REFUSED_ADDRESS
    assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.HALF_OPEN
    assert fetch(fetcher) is FetchOutcome.FETCHED
    assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.CLOSED


def test_unusable_urls_go_straight_to_the_inner_fetcher() -> None:
    inner = ScriptedFetcher([FetchOutcome.INVALID_REQUEST, FetchOutcome.REFUSED_ADDRESS])
    fetcher = breaker(inner, FakeClock())
    assert fetch(fetcher, "http://[::1") is FetchOutcome.INVALID_REQUEST
    assert fetch(fetcher, "file:///etc/passwd") is FetchOutcome.REFUSED_ADDRESS
    assert fetcher.states() == {}


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://Feeds.Example/x?y=1", "https://feeds.example:443"),
        ("http://feeds.example/", "http://feeds.example:80"),
        ("HTTP://feeds.example:8080", "http://feeds.example:8080"),
        ("https://[2001:db8::1]/feed", "https://[2001:db8::1]:443"),
        ("https://user:pw@feeds.example/", "https://feeds.example:443"),
        ("ftp://feeds.example/", None),
        ("https:///nohost", None),
        ("https://feeds.example:99999/", None),
        ("not a url", None),
    ],
)
def test_endpoint_of(url: str, endpoint: str | None) -> None:
    assert endpoint_of(url) == endpoint


class BlockingFetcher:
    """A fake that fails its first `failures` calls, then waits until released: a slow probe."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def fetch(self, request: FetchRequest) -> FetchResult:
        with self._lock:
            self.calls += 1
            if self.calls <= self.failures:
                return FetchResult(FetchOutcome.TIMEOUT, host="fake")
        self.entered.set()
        assert self.release.wait(5)
        return FetchResult(FetchOutcome.FETCHED, host="fake", status=200)


def test_only_one_probe_at_a_time() -> None:
    clock = FakeClock()
    blocking = BlockingFetcher(failures=1)
    fetcher = CircuitBreakerFetcher(blocking, clock, failure_threshold=1, reset_after=10)
    assert fetch(fetcher) is FetchOutcome.TIMEOUT
    clock.advance(10)

    outcomes: list[FetchOutcome] = []
    probe = threading.Thread(target=lambda: outcomes.append(fetch(fetcher)))
    probe.start()
    try:
        assert blocking.entered.wait(5)
        open_result = fetcher.fetch(FetchRequest(url=A))
        assert open_result.outcome is FetchOutcome.CIRCUIT_OPEN
        assert "a probe is in flight" in open_result.detail
        assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.HALF_OPEN
    finally:
        blocking.release.set()
        probe.join(5)
    assert outcomes == [FetchOutcome.FETCHED]
    assert blocking.calls == 2
    assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.CLOSED


def test_concurrent_failures_are_all_counted() -> None:
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 400)
    fetcher = breaker(inner, FakeClock(), threshold=1000)
    threads = [threading.Thread(target=lambda: [fetch(fetcher) for _ in range(50)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert fetcher.states()["https://feeds.acme.example:443"].failures == 400


def test_an_escaping_exception_never_leaves_a_probe_stuck() -> None:
    class Exploding:
        def fetch(self, request: FetchRequest) -> FetchResult:
            raise RuntimeError("bug")

    clock = FakeClock()
    fetcher = CircuitBreakerFetcher(Exploding(), clock, failure_threshold=1, reset_after=10)
    with pytest.raises(RuntimeError):
        fetch(fetcher)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(10)
    with pytest.raises(RuntimeError):
        fetch(fetcher)  # the probe raised: the circuit re-opens instead of waiting for it forever
    assert fetcher.states()["https://feeds.acme.example:443"].state is CircuitState.OPEN


@pytest.mark.parametrize(("threshold", "reset_after"), [(0, 60.0), (3, 0.0), (3, -1.0)])
def test_settings_are_checked(threshold: int, reset_after: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreakerFetcher(
            ScriptedFetcher(), FakeClock(), failure_threshold=threshold, reset_after=reset_after
        )
