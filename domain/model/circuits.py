"""Circuit breakers of partner feeds: the stored value and its rules (ADR 0014).

A `Circuit` guards one partner's feed URL (`CircuitKey`): closed, open after a run of
endpoint failures, half-open once it has been open long enough. Its transitions are
pure functions of the value, the moment and the `BreakerPolicy`: `admit` (may a fetch go
out now, and is it the probe?) and `record` (what a fetch's verdict does to it). They
return the next value and change nothing; the store keeps the value and replaces it only
if no other process replaced it meanwhile (`CircuitRepository.replace`), so every
scheduler shares one circuit and one probe at a time goes out, whichever process sends it.

Moments are wall-clock (the clock port's `now()`): a circuit shared by processes needs a
time they all read. A probe holds its circuit for `probe_lease` at most, so a process that
dies in the middle of a probe delays the next probe by that much, never forever.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta
from typing import Final

import attrs

__all__ = [
    "Admission",
    "BreakerPolicy",
    "Circuit",
    "CircuitKey",
    "CircuitState",
    "Verdict",
    "endpoint_of",
]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_AUTHORITY_END: Final = re.compile(r"[/?#]")


class CircuitState(enum.StrEnum):
    """Where a circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    """Open for long enough: the next fetch is the probe (or the probe is in flight)."""


class Verdict(enum.Enum):
    """What one fetch's result says about the endpoint's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    """Says nothing about the endpoint (a refused address, a malformed request): neither counts nor resets."""


class Admission(enum.Enum):
    """What `Circuit.admit` allows."""

    ALLOWED = "allowed"
    """Closed: the fetch goes out."""
    PROBE = "probe"
    """The one fetch that tests a half-open circuit."""
    REFUSED = "refused"
    """Open, or a probe is in flight: no request is made."""


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value}")


def _positive(instance: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, not {value.total_seconds():g} s")


@attrs.frozen
class BreakerPolicy:
    """When circuits open and probe."""

    failure_threshold: int = attrs.field(default=5, validator=_at_least_one)
    """Consecutive endpoint failures that open a closed circuit."""
    reset_after: timedelta = attrs.field(default=timedelta(seconds=60), validator=_positive)
    """How long a circuit stays open before a probe may go out."""
    probe_lease: timedelta = attrs.field(default=timedelta(seconds=120), validator=_positive)
    """How long a probe holds a half-open circuit: longer than any fetch may take."""


def endpoint_of(url: str) -> str | None:
    """`scheme://host:port` of an http(s) URL (lowercase, default port filled in), for people:
    never a user, path or query, any of which may carry a credential. None when it names no host."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in _DEFAULT_PORTS:
        return None
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0].rpartition("@")[2]
    if authority.startswith("["):
        address, bracket, after = authority[1:].partition("]")
        if not bracket or not address or (after and not after.startswith(":")):
            return None
        host, port_text = f"[{address.lower()}]", after[1:]
    else:
        name, _, port_text = authority.partition(":")
        host = name.lower()
    if host in ("", "[]"):
        return None
    if not port_text:
        return f"{scheme}://{host}:{_DEFAULT_PORTS[scheme]}"
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        return None
    return f"{scheme}://{host}:{int(port_text)}"


@attrs.frozen
class CircuitKey:
    """Which circuit a fetch belongs to: one per partner and feed URL.

    `url_hash` stands for the URL as configured (a path or query may carry a token, so
    the store keeps a digest, not a second copy); `endpoint` is what people are shown.
    `partner_id` is empty for a fetch made on no partner's behalf.
    """

    partner_id: str
    url_hash: str
    endpoint: str

    @classmethod
    def for_feed(cls, url: str, partner_id: str | None = None) -> CircuitKey | None:
        """The key of `partner_id`'s feed at `url`; None when the URL names no http(s) endpoint."""
        endpoint = endpoint_of(url)
        if endpoint is None:
            return None
        import hashlib  # here: OpenSSL loads with the first pull, not with every fetcher's import

        digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return cls(partner_id or "", digest, endpoint)


@attrs.frozen
class Circuit:
    """One partner feed's circuit breaker, as stored. Build a new one with `Circuit(key)` (closed)."""

    key: CircuitKey
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    """Consecutive endpoint failures so far."""
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    """Set while open: from then on a probe may go out."""
    probe_token: str | None = None
    """Set while a probe is in flight: the token its fetch was admitted with."""
    probe_until: datetime | None = None
    """When the probe in flight is given up for lost (its process died)."""
    revision: int = 0
    """How many times the store has replaced it (0: never stored); the store's guard, not a rule's."""

    def state_at(self, now: datetime) -> CircuitState:
        """The state as people should read it: an open circuit whose probe is due is half-open."""
        if self.state is CircuitState.OPEN and self._probe_due(now):
            return CircuitState.HALF_OPEN
        return self.state

    def probing(self, now: datetime) -> bool:
        """Is a probe in flight (and not yet given up for lost)?"""
        return self.probe_token is not None and self.probe_until is not None and now < self.probe_until

    def admit(self, now: datetime, policy: BreakerPolicy, token: str) -> tuple[Admission, Circuit]:
        """May a fetch go out now? A probe is admitted under `token`, which its `record` names."""
        if self.state is CircuitState.CLOSED:
            return Admission.ALLOWED, self
        if self.probing(now) or (self.state is CircuitState.OPEN and not self._probe_due(now)):
            return Admission.REFUSED, self
        probing = attrs.evolve(
            self, state=CircuitState.HALF_OPEN, probe_token=token, probe_until=now + policy.probe_lease
        )
        return Admission.PROBE, probing

    def record(
        self, verdict: Verdict, now: datetime, policy: BreakerPolicy, *, probe: str | None = None
    ) -> Circuit:
        """The circuit after a fetch judged `verdict`; `probe` is the token of a fetch admitted as
        the probe. A probe given up for lost that reports late counts as an ordinary fetch."""
        ours = probe is not None and self.state is CircuitState.HALF_OPEN and self.probe_token == probe
        if verdict is Verdict.SUCCESS:
            return Circuit(self.key, revision=self.revision)
        if verdict is Verdict.NEUTRAL:
            return attrs.evolve(self, probe_token=None, probe_until=None) if ours else self
        failures = self.failures + 1
        if ours or (self.state is CircuitState.CLOSED and failures >= policy.failure_threshold):
            return attrs.evolve(
                self,
                state=CircuitState.OPEN,
                failures=failures,
                opened_at=now,
                next_probe_at=now + policy.reset_after,
                probe_token=None,
                probe_until=None,
            )
        return attrs.evolve(self, failures=failures)

    def _probe_due(self, now: datetime) -> bool:
        return self.next_probe_at is None or now >= self.next_probe_at
