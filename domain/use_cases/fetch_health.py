"""Use case: how partner fetches are faring, for admins and metrics (ADR 0014, S4).

Two views of scheduled pulls that operators act on:

- the circuit breaker of each partner's feed (closed, open, half open, with its run of
  failures), one per partner and feed URL, as the store holds it: every scheduler
  process counts into the same circuits, so every instance shows the same states;
- the `fetch_anomaly` audit entries of the last hour (at most one per partner and
  hour, see `PullDueFeeds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditQuery
from partner_ingest.domain.model.circuits import Circuit, CircuitKey, CircuitState
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.repositories import AuditLog
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["ANOMALY_WINDOW", "FeedCircuit", "ReadFetchHealth"]

ANOMALY_WINDOW: Final = timedelta(hours=1)
_MAX_ANOMALIES: Final = 100_000


@attrs.frozen
class FeedCircuit:
    """One partner feed's circuit, as people should read it now."""

    partner_id: str | None
    """None for a feed fetched on no partner's behalf (an embedder's own fetches)."""
    endpoint: str
    """`scheme://host:port` of the feed URL: never a path, query or user, which may carry a credential."""
    state: CircuitState
    """An open circuit whose probe is due reads half-open."""
    failures: int
    """Consecutive endpoint failures so far."""
    opened_at: datetime | None
    next_probe_at: datetime | None

    @classmethod
    def of(cls, circuit: Circuit, now: datetime) -> FeedCircuit:
        """The view of a stored (or never stored, so closed) circuit at `now`."""
        return cls(
            partner_id=circuit.key.partner_id or None,
            endpoint=circuit.key.endpoint,
            state=circuit.state_at(now),
            failures=circuit.failures,
            opened_at=circuit.opened_at,
            next_probe_at=circuit.next_probe_at,
        )


class ReadFetchHealth:
    """Circuit states per partner feed and recent fetch anomalies."""

    def __init__(self, uow: UnitOfWorkFactory, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock

    def circuits(self) -> list[FeedCircuit]:
        """The circuit of every partner's current feed URL (closed when never fetched), and of
        feeds fetched on no partner's behalf; by partner. Circuits of URLs a partner no
        longer uses are left out: no fetch will ever use them again."""
        with self._uow(read_only=True) as uow:
            partners = uow.partners.all()
            stored = {circuit.key: circuit for circuit in uow.circuits.all()}
        now = self._clock.now()
        shown = []
        for partner in partners:
            key = CircuitKey.for_feed(partner.endpoint, partner.id) if partner.endpoint else None
            if key is not None:  # None: no endpoint, or one no fetch could ever reach
                shown.append(FeedCircuit.of(stored.get(key) or Circuit(key), now))
        shown += [FeedCircuit.of(c, now) for key, c in stored.items() if not key.partner_id]
        return sorted(shown, key=lambda c: (c.partner_id or "", c.endpoint))

    def circuit_counts(self) -> Mapping[CircuitState, int]:
        """The feeds of `circuits()` per circuit state (every state present, 0 included)."""
        counts = dict.fromkeys(CircuitState, 0)
        for circuit in self.circuits():
            counts[circuit.state] += 1
        return counts

    def recent_anomalies(self) -> int:
        """`fetch_anomaly` audit entries of the last hour."""
        since = self._clock.now() - ANOMALY_WINDOW
        query = AuditQuery(since=since, action=AuditAction.FETCH_ANOMALY, limit=_MAX_ANOMALIES)
        return len(self._audit.query(query))
