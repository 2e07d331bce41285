"""A circuit breaker per partner endpoint around any `FeedFetcher` (ADR 0014).

When a partner's server is down, every scheduled pull of it would otherwise wait out
its connect or read timeout and tie up a scheduler slot. After `failure_threshold`
consecutive endpoint failures the circuit opens: fetches to that endpoint return
`CIRCUIT_OPEN` at once, without a request, until `reset_after` seconds have passed.
Then one probe goes through (half-open): success closes the circuit, failure opens it
for another `reset_after`.

What counts (see `judge`): only outcomes that say the endpoint itself is unhealthy:
timeouts, connection errors, invalid HTTP, 5xx and 429. A refused address or an
invalid request is a configuration problem, not endpoint health: it neither counts
nor resets the run, and no traffic reached the refused target anyway. Every other
answer (2xx, 304, 4xx, too large, wrong content type, a redirect loop) proves the
endpoint is up and resets the run; those are the scheduler's to audit and report.

Endpoints are keyed by the request URL's scheme, host and port; redirect targets are
charged to the endpoint that was asked for. The states are this process's: admins and
metrics read them through the `CircuitStates` port (`states()`, `circuit_for(url)`).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import attrs

from partner_ingest.ports.clock import Clock
from partner_ingest.ports.fetcher import (
    CircuitSnapshot,
    CircuitState,
    FeedFetcher,
    FetchOutcome,
    FetchRequest,
    FetchResult,
)

__all__ = [
    "CircuitBreakerFetcher",
    "CircuitSnapshot",
    "CircuitState",
    "Verdict",
    "endpoint_of",
    "judge",
]

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ENDPOINT_FAILURES = frozenset(
    {FetchOutcome.TIMEOUT, FetchOutcome.CONNECTION_ERROR, FetchOutcome.INVALID_RESPONSE}
)
_NEUTRAL = frozenset({FetchOutcome.REFUSED_ADDRESS, FetchOutcome.INVALID_REQUEST, FetchOutcome.CIRCUIT_OPEN})


class Verdict(enum.Enum):
    """What a fetch result says about the endpoint's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"


def judge(result: FetchResult) -> Verdict:
    """The breaker's reading of one result (module docstring: what counts and why)."""
    if result.outcome in _NEUTRAL:
        return Verdict.NEUTRAL
    if result.outcome in _ENDPOINT_FAILURES:
        return Verdict.FAILURE
    status = result.status or 0
    if result.outcome is FetchOutcome.HTTP_ERROR and (status >= 500 or status == 429):
        return Verdict.FAILURE
    return Verdict.SUCCESS


def endpoint_of(url: str) -> str | None:
    """`scheme://host:port` of a URL (lowercase, default port filled in); None when unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


@attrs.define
class _Circuit:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    """Monotonic moment it opened: decisions use this, immune to wall-clock jumps."""
    opened_at_wall: datetime | None = None
    probing: bool = False


class CircuitBreakerFetcher:
    """A `FeedFetcher` that stops calling an endpoint after a run of failures, then probes it."""

    def __init__(
        self,
        inner: FeedFetcher,
        clock: Clock,
        failure_threshold: int = 5,
        reset_after: float = 60.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, not {failure_threshold}")
        if reset_after <= 0:
            raise ValueError(f"reset_after must be positive, not {reset_after}")
        self._inner = inner
        self._clock = clock
        self._threshold = failure_threshold
        self._reset_after = reset_after
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def fetch(self, request: FetchRequest) -> FetchResult:
        """The inner fetch, or `CIRCUIT_OPEN` without a request while the endpoint's circuit is open."""
        endpoint = endpoint_of(request.url)
        if endpoint is None:
            return self._inner.fetch(request)  # it will refuse the URL; nothing to guard
        refusal, probe = self._admit(endpoint, request)
        if refusal is not None:
            return refusal
        try:
            result = self._inner.fetch(request)
        except BaseException:
            # The port promises no exceptions; if one escapes anyway, never leave a probe stuck.
            self._record(endpoint, Verdict.FAILURE, probe)
            raise
        self._record(endpoint, judge(result), probe)
        return result

    def states(self) -> Mapping[str, CircuitSnapshot]:
        """A snapshot of every endpoint seen so far."""
        with self._lock:
            return {
                endpoint: self._snapshot(endpoint, circuit) for endpoint, circuit in self._circuits.items()
            }

    def circuit_for(self, url: str) -> CircuitSnapshot | None:
        """The circuit of `url`'s endpoint (closed with no failures when never fetched)."""
        endpoint = endpoint_of(url)
        if endpoint is None:
            return None
        with self._lock:
            circuit = self._circuits.get(endpoint)
            return self._snapshot(endpoint, circuit if circuit is not None else _Circuit())

    def _admit(self, endpoint: str, request: FetchRequest) -> tuple[FetchResult | None, bool]:
        """(a CIRCUIT_OPEN result, or None to go ahead; whether this call is the probe)."""
        with self._lock:
            circuit = self._circuits.setdefault(endpoint, _Circuit())
            if circuit.state is CircuitState.CLOSED:
                return None, False
            if circuit.state is CircuitState.OPEN and self._due(circuit):
                circuit.state = CircuitState.HALF_OPEN
            if circuit.state is CircuitState.HALF_OPEN and not circuit.probing:
                circuit.probing = True
                return None, True
            return self._open_result(endpoint, request, circuit), False

    def _record(self, endpoint: str, verdict: Verdict, probe: bool) -> None:
        with self._lock:
            circuit = self._circuits[endpoint]
            if probe:
                circuit.probing = False
            if verdict is Verdict.SUCCESS:
                if circuit.state is not CircuitState.CLOSED:
                    logger.info("circuit for %s closed", endpoint)
                self._circuits[endpoint] = _Circuit()
            elif verdict is Verdict.FAILURE:
                circuit.failures += 1
                reopen = probe and circuit.state is CircuitState.HALF_OPEN
                if reopen or (circuit.state is CircuitState.CLOSED and circuit.failures >= self._threshold):
                    circuit.state = CircuitState.OPEN
                    circuit.opened_at = self._clock.monotonic()
                    circuit.opened_at_wall = self._clock.now()
                    logger.warning(
                        "circuit for %s opened after %d consecutive failures", endpoint, circuit.failures
                    )

    def _due(self, circuit: _Circuit) -> bool:
        return self._clock.monotonic() - circuit.opened_at >= self._reset_after

    def _next_probe_at(self, circuit: _Circuit) -> datetime | None:
        if circuit.opened_at_wall is None:
            return None
        return circuit.opened_at_wall + timedelta(seconds=self._reset_after)

    def _snapshot(self, endpoint: str, circuit: _Circuit) -> CircuitSnapshot:
        state = circuit.state
        if state is CircuitState.OPEN and self._due(circuit):
            state = CircuitState.HALF_OPEN
        return CircuitSnapshot(
            endpoint=endpoint,
            state=state,
            failures=circuit.failures,
            opened_at=circuit.opened_at_wall,
            next_probe_at=self._next_probe_at(circuit),
        )

    def _open_result(self, endpoint: str, request: FetchRequest, circuit: _Circuit) -> FetchResult:
        if circuit.probing:
            why = "a probe is in flight"
        else:
            next_probe = self._next_probe_at(circuit)
            why = f"next probe at {next_probe.isoformat()}" if next_probe else "waiting to probe"
        return FetchResult(
            FetchOutcome.CIRCUIT_OPEN,
            host=urlsplit(request.url).hostname or "",
            detail=f"circuit open for {endpoint} after {circuit.failures} consecutive failures; {why}",
        )
