"""A circuit breaker per partner feed around any `FeedFetcher`, kept in the store (ADR 0014).

When a partner's server is down, every scheduled pull of it would otherwise wait out
its connect or read timeout and tie up a scheduler slot. After `failure_threshold`
consecutive endpoint failures the circuit opens: fetches of that feed return
`CIRCUIT_OPEN` at once, without a request, until `reset_after` has passed. Then one
probe goes through (half-open): success closes the circuit, failure opens it for
another `reset_after`.

Circuits are keyed by partner and feed URL (`CircuitKey.for_feed`), and live in the
store (`uow.circuits`), not in this object: every scheduler process on one database
counts into the same circuit, `/admin/circuits` reads what they wrote, and a restart
forgets nothing. The rules are the domain's (`Circuit.admit`, `Circuit.record`); this
adapter reads a circuit, applies a rule, and has the store replace it only if nobody
else did meanwhile, retrying on a lost race, so one probe at a time goes out, whichever
process sends it. A closed circuit and a success cost one read each and no write.

What counts (see `judge`): only outcomes that say the endpoint itself is unhealthy:
timeouts, connection errors, invalid HTTP, 5xx and 429. A refused address or an
invalid request is a configuration problem, not endpoint health: it neither counts
nor resets the run, and no traffic reached the refused target anyway. Every other
answer (2xx, 304, 4xx, too large, wrong content type, a redirect loop) proves the
endpoint is up and resets the run; those are the scheduler's to audit and report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, TypeVar

from partner_ingest.adapters_out.store_errors import StoreBusyError
from partner_ingest.domain.model.circuits import (
    Admission,
    BreakerPolicy,
    Circuit,
    CircuitKey,
    CircuitState,
    Verdict,
)
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["CircuitBreakerFetcher", "judge"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Step = Callable[[Circuit], tuple[_T, Circuit]]

_ENDPOINT_FAILURES: Final = frozenset(
    {FetchOutcome.TIMEOUT, FetchOutcome.CONNECTION_ERROR, FetchOutcome.INVALID_RESPONSE}
)
_NEUTRAL: Final = frozenset(
    {FetchOutcome.REFUSED_ADDRESS, FetchOutcome.INVALID_REQUEST, FetchOutcome.CIRCUIT_OPEN}
)
_RACES: Final = 50
"""Replacements lost in a row before giving up: each loss means another writer changed the
circuit in between, so even this many needs dozens of processes on one feed at once."""


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


def _probe_token() -> str:
    """A half-open probe's token. `secrets` is imported here: with it come OpenSSL's hashlib,
    hmac and random, which a process that never probes a circuit need not load."""
    import secrets

    return secrets.token_hex(8)


class CircuitBreakerFetcher:
    """A `FeedFetcher` that stops calling a partner's feed after a run of failures, then probes it."""

    def __init__(
        self,
        inner: FeedFetcher,
        circuits: UnitOfWorkFactory,
        clock: Clock,
        policy: BreakerPolicy | None = None,
        *,
        tokens: Callable[[], str] = _probe_token,
    ) -> None:
        self._inner = inner
        self._uow = circuits
        self._clock = clock
        self.policy = policy or BreakerPolicy()
        self._tokens = tokens

    def fetch(self, request: FetchRequest) -> FetchResult:
        """The inner fetch, or `CIRCUIT_OPEN` without a request while the feed's circuit is open."""
        key = CircuitKey.for_feed(request.url, request.partner_id)
        if key is None:
            return self._inner.fetch(request)  # it will refuse the URL; nothing to guard
        token = self._tokens()
        admission, circuit = self._change(key, lambda c: c.admit(self._clock.now(), self.policy, token))
        if admission is Admission.REFUSED:
            return self._refusal(circuit)
        probe = token if admission is Admission.PROBE else None
        try:
            result = self._inner.fetch(request)
        except BaseException:
            # The port promises no exceptions; if one escapes anyway, never leave a probe stuck.
            self._record(key, Verdict.FAILURE, probe)
            raise
        try:
            self._record(key, judge(result), probe)
        except BaseException:
            if result.body is not None:
                result.body.close()
            raise
        return result

    def _record(self, key: CircuitKey, verdict: Verdict, probe: str | None) -> None:
        def step(circuit: Circuit) -> tuple[None, Circuit]:
            return None, circuit.record(verdict, self._clock.now(), self.policy, probe=probe)

        self._change(key, step)

    def _change(self, key: CircuitKey, step: _Step[_T]) -> tuple[_T, Circuit]:
        """Apply `step` to the stored circuit and store what it returns, atomically: read,
        decide, and replace only if no other writer replaced it since; otherwise again."""
        for _ in range(_RACES):
            with self._uow(read_only=True) as uow:
                current = uow.circuits.get(key) or Circuit(key)
            outcome, new = step(current)
            if new == current:
                return outcome, current
            with self._uow() as uow:
                replaced = uow.circuits.replace(current, new)
                uow.commit()
            if replaced:
                _log_change(current, new)
                return outcome, new
        raise StoreBusyError(
            f"the circuit of {key.endpoint} kept changing under {_RACES} attempts to update it"
        )

    def _refusal(self, circuit: Circuit) -> FetchResult:
        if circuit.probing(self._clock.now()):
            why = "a probe is in flight"
        elif circuit.next_probe_at is not None:
            why = f"next probe at {circuit.next_probe_at.isoformat()}"
        else:
            why = "waiting to probe"
        return FetchResult(
            FetchOutcome.CIRCUIT_OPEN,
            host=_host(circuit.key.endpoint),
            detail=f"circuit open for {circuit.key.endpoint} after {circuit.failures} consecutive failures; {why}",
        )


def _log_change(before: Circuit, after: Circuit) -> None:
    """One line per transition, written by the process that made it (never a path or query)."""
    if before.state is after.state:
        return
    whose = f"partner {after.key.partner_id}'s feed at " if after.key.partner_id else ""
    if after.state is CircuitState.OPEN:
        logger.warning(
            "circuit for %s%s opened after %d consecutive failures", whose, after.key.endpoint, after.failures
        )
    elif after.state is CircuitState.CLOSED:
        logger.info("circuit for %s%s closed", whose, after.key.endpoint)


def _host(endpoint: str) -> str:
    """The host of `scheme://host:port`, brackets of an IPv6 address removed."""
    host = endpoint.partition("://")[2].rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host
