"""The circuit breaker of partner feeds (ADR 0014), on the in-memory store, a fake clock and a
scripted fake fetcher. Several processes sharing one store: tests/integration/test_shared_circuits.py."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from datetime import timedelta

import pytest

from partner_ingest.adapters_out.fetcher.circuit_breaker import CircuitBreakerFetcher, judge
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.domain.model.circuits import (
    BreakerPolicy,
    Circuit,
    CircuitKey,
    CircuitState,
    Verdict,
    endpoint_of,
)
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
    inner: FeedFetcher,
    clock: FakeClock,
    threshold: int = 3,
    reset_after: float = 60.0,
    store: InMemoryStore | None = None,
) -> CircuitBreakerFetcher:
    policy = BreakerPolicy(failure_threshold=threshold, reset_after=timedelta(seconds=reset_after))
    return CircuitBreakerFetcher(inner, (store or InMemoryStore()).unit_of_work, clock, policy)


def fetch(fetcher: FeedFetcher, url: str = A, partner: str | None = "acme") -> FetchOutcome:
    return fetcher.fetch(FetchRequest(url=url, partner_id=partner)).outcome


def stored(fetcher: CircuitBreakerFetcher, url: str = A, partner: str | None = "acme") -> Circuit:
    """The circuit of `partner`'s feed at `url` as the store holds it (closed when never stored)."""
    key = CircuitKey.for_feed(url, partner)
    assert key is not None
    with fetcher._uow(read_only=True) as uow:
        return uow.circuits.get(key) or Circuit(key)


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
    assert stored(fetcher).state is CircuitState.CLOSED


def test_a_run_of_failures_opens_the_circuit_and_stops_calling_the_endpoint() -> None:
    inner = ScriptedFetcher([FetchOutcome.CONNECTION_ERROR] * 3)
    fetcher = breaker(inner, FakeClock())
    assert [fetch(fetcher) for _ in range(3)] == [FetchOutcome.CONNECTION_ERROR] * 3
    result = fetcher.fetch(FetchRequest(url=A, partner_id="acme"))
    assert result.outcome is FetchOutcome.CIRCUIT_OPEN
    assert result.host == "feeds.acme.example"
    assert "https://feeds.acme.example:443" in result.detail
    assert "3 consecutive failures" in result.detail
    assert "token" not in result.detail and "catalog" not in result.detail  # never the path or query
    assert len(inner.calls) == 3


def test_a_success_resets_the_run() -> None:
    inner = ScriptedFetcher(
        [FetchOutcome.TIMEOUT, FetchOutcome.TIMEOUT, FetchOutcome.FETCHED, FetchOutcome.TIMEOUT]
    )
    inner.then(FetchOutcome.TIMEOUT)
    fetcher = breaker(inner, FakeClock())
    for _ in range(5):
        fetch(fetcher)
    assert stored(fetcher).failures == 2
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
    circuit = stored(fetcher)
    assert (circuit.state, circuit.failures, circuit.opened_at, circuit.next_probe_at) == (
        CircuitState.CLOSED,
        0,
        None,
        None,
    )
    assert circuit.probe_token is None and circuit.probe_until is None
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
    circuit = stored(fetcher)
    assert circuit.state is CircuitState.OPEN
    assert circuit.failures == 4
    assert circuit.opened_at == reopened_at
    clock.advance(59)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(1)
    assert fetch(fetcher) is FetchOutcome.FETCHED
    assert len(inner.calls) == 5


def test_the_stored_circuit_tells_admins_when_the_next_probe_is_due() -> None:
    clock = FakeClock()
    fetcher = breaker(ScriptedFetcher([FetchOutcome.TIMEOUT] * 3), clock, reset_after=90)
    for _ in range(3):
        fetch(fetcher)
    opened = clock.now()
    circuit = stored(fetcher)
    assert circuit.state is CircuitState.OPEN and circuit.state_at(clock.now()) is CircuitState.OPEN
    assert circuit.opened_at == opened
    assert circuit.next_probe_at == opened + timedelta(seconds=90)
    assert circuit.next_probe_at.isoformat() in fetcher.fetch(FetchRequest(url=A, partner_id="acme")).detail
    clock.advance(90)
    assert stored(fetcher).state_at(clock.now()) is CircuitState.HALF_OPEN


def test_circuits_are_kept_per_partner_and_feed_url() -> None:
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 3)
    fetcher = breaker(inner, FakeClock())
    for _ in range(3):
        fetch(fetcher, A)
    assert fetch(fetcher, A) is FetchOutcome.CIRCUIT_OPEN
    assert fetch(fetcher, "https://feeds.acme.example/other.json") is FetchOutcome.FETCHED  # same host
    assert fetch(fetcher, A, partner="globex") is FetchOutcome.FETCHED  # same URL, another partner
    assert fetch(fetcher, A, partner=None) is FetchOutcome.FETCHED  # on no partner's behalf
    assert fetch(fetcher, B) is FetchOutcome.FETCHED
    assert stored(fetcher, A).state is CircuitState.OPEN
    assert stored(fetcher, "https://feeds.acme.example/other.json").state is CircuitState.CLOSED
    assert stored(fetcher, A, partner="globex").state is CircuitState.CLOSED


def test_a_healthy_feed_on_the_same_host_never_resets_a_failing_one() -> None:
    failing, healthy = "https://shared.example/down.json", "https://shared.example/up.json"
    inner = ScriptedFetcher()
    fetcher = breaker(inner, FakeClock(), threshold=2)
    inner.then(FetchOutcome.TIMEOUT, FetchOutcome.FETCHED, FetchOutcome.TIMEOUT)
    assert [
        fetch(fetcher, failing, "down"),
        fetch(fetcher, healthy, "up"),
        fetch(fetcher, failing, "down"),
    ] == [
        FetchOutcome.TIMEOUT,
        FetchOutcome.FETCHED,
        FetchOutcome.TIMEOUT,
    ]
    assert fetch(fetcher, failing, "down") is FetchOutcome.CIRCUIT_OPEN
    assert fetch(fetcher, healthy, "up") is FetchOutcome.FETCHED


def test_a_closed_circuit_and_its_successes_cost_no_write() -> None:
    store = InMemoryStore()
    fetcher = breaker(ScriptedFetcher(), FakeClock(), store=store)
    for _ in range(5):
        assert fetch(fetcher) is FetchOutcome.FETCHED
    assert store.commits == 0
    with store.unit_of_work(read_only=True) as uow:
        assert uow.circuits.all() == []


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
    circuit = stored(fetcher)
    assert circuit.state is CircuitState.HALF_OPEN and not circuit.probing(clock.now())
    assert fetch(fetcher) is FetchOutcome.FETCHED
    assert stored(fetcher).state is CircuitState.CLOSED


def test_unusable_urls_go_straight_to_the_inner_fetcher() -> None:
    store = InMemoryStore()
    inner = ScriptedFetcher([FetchOutcome.INVALID_REQUEST, FetchOutcome.REFUSED_ADDRESS])
    fetcher = breaker(inner, FakeClock(), store=store)
    assert fetch(fetcher, "http://[::1") is FetchOutcome.INVALID_REQUEST
    assert fetch(fetcher, "file:///etc/passwd") is FetchOutcome.REFUSED_ADDRESS
    with store.unit_of_work(read_only=True) as uow:
        assert uow.circuits.all() == []


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://Feeds.Example/x?y=1", "https://feeds.example:443"),
        ("http://feeds.example/", "http://feeds.example:80"),
        ("http://feeds.example", "http://feeds.example:80"),
        ("http://feeds.example?q=1", "http://feeds.example:80"),
        ("HTTP://feeds.example:8080", "http://feeds.example:8080"),
        ("https://[2001:DB8::1]/feed", "https://[2001:db8::1]:443"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("https://user:pw@feeds.example/", "https://feeds.example:443"),
        ("https://feeds.example:0443/", "https://feeds.example:443"),
        ("ftp://feeds.example/", None),
        ("https:///nohost", None),
        ("https://:443/", None),
        ("https://feeds.example:99999/", None),
        ("https://feeds.example:\uff18\uff10/", None),  # digits, but not ASCII ones
        ("https://feeds.example:-1/", None),
        ("http://[::1", None),
        ("http://[]/", None),
        ("http://[::1]x/", None),
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
    fetcher = breaker(blocking, clock, threshold=1, reset_after=10)
    assert fetch(fetcher) is FetchOutcome.TIMEOUT
    clock.advance(10)

    outcomes: list[FetchOutcome] = []
    probe = threading.Thread(target=lambda: outcomes.append(fetch(fetcher)))
    probe.start()
    try:
        assert blocking.entered.wait(5)
        open_result = fetcher.fetch(FetchRequest(url=A, partner_id="acme"))
        assert open_result.outcome is FetchOutcome.CIRCUIT_OPEN
        assert "a probe is in flight" in open_result.detail
        assert stored(fetcher).state is CircuitState.HALF_OPEN
    finally:
        blocking.release.set()
        probe.join(5)
    assert outcomes == [FetchOutcome.FETCHED]
    assert blocking.calls == 2
    assert stored(fetcher).state is CircuitState.CLOSED


def test_a_probe_whose_process_died_holds_the_circuit_only_for_its_lease() -> None:
    clock, store = FakeClock(), InMemoryStore()
    fetcher = breaker(
        ScriptedFetcher([FetchOutcome.TIMEOUT]), clock, threshold=1, reset_after=10, store=store
    )
    assert fetch(fetcher) is FetchOutcome.TIMEOUT
    clock.advance(10)
    # Another process took the probe and died before it could say how it went.
    with store.unit_of_work() as uow:
        current = stored(fetcher)
        _, probing = current.admit(clock.now(), fetcher.policy, token="dead-process")
        assert uow.circuits.replace(current, probing)
        uow.commit()

    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(fetcher.policy.probe_lease.total_seconds() - 1)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(1)
    assert fetch(fetcher) is FetchOutcome.FETCHED  # a new probe, which closes it
    assert stored(fetcher).state is CircuitState.CLOSED


def test_concurrent_failures_are_all_counted() -> None:
    inner = ScriptedFetcher([FetchOutcome.TIMEOUT] * 400)
    fetcher = breaker(inner, FakeClock(), threshold=1000)
    threads = [threading.Thread(target=lambda: [fetch(fetcher) for _ in range(50)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert stored(fetcher).failures == 400


def test_an_escaping_exception_never_leaves_a_probe_stuck() -> None:
    class Exploding:
        def fetch(self, request: FetchRequest) -> FetchResult:
            raise RuntimeError("bug")

    clock = FakeClock()
    fetcher = breaker(Exploding(), clock, threshold=1, reset_after=10)
    with pytest.raises(RuntimeError):
        fetch(fetcher)
    assert fetch(fetcher) is FetchOutcome.CIRCUIT_OPEN
    clock.advance(10)
    with pytest.raises(RuntimeError):
        fetch(fetcher)  # the probe raised: the circuit re-opens instead of waiting for it forever
    assert stored(fetcher).state is CircuitState.OPEN


@pytest.mark.parametrize(
    ("threshold", "reset_after", "lease"), [(0, 60.0, 60.0), (3, 0.0, 60.0), (3, -1.0, 60.0), (3, 60.0, 0.0)]
)
def test_settings_are_checked(threshold: int, reset_after: float, lease: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        BreakerPolicy(
            failure_threshold=threshold,
            reset_after=timedelta(seconds=reset_after),
            probe_lease=timedelta(seconds=lease),
        )
