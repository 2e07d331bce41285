"""Use case: how partner fetches are faring, for admins and metrics (ADR 0014, S4).

Two views of scheduled pulls that operators act on:

- the circuit breaker of each partner endpoint (closed, open, half open, with its
  run of failures), grouped by endpoint because that is what the breaker guards:
  partners sharing a host share its circuit;
- the `fetch_anomaly` audit entries of the last hour (at most one per partner and
  hour, see `PullDueFeeds`).

Circuit states live in the process that fetches: `serve` with its in-process
scheduler reports every pull it makes; a separate `partner-ingest scheduler`
process keeps its own, which this process cannot see. Anomalies come from the
audit trail and are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditQuery
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.fetcher import CircuitSnapshot, CircuitState, CircuitStates
from partner_ingest.ports.repositories import AuditLog
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["ANOMALY_WINDOW", "EndpointCircuit", "ReadFetchHealth"]

ANOMALY_WINDOW: Final = timedelta(hours=1)
_MAX_ANOMALIES: Final = 100_000


@attrs.frozen
class EndpointCircuit:
    """One endpoint's circuit and the partners whose feeds are pulled from it."""

    circuit: CircuitSnapshot
    partner_ids: tuple[str, ...]
    """Partners whose endpoint is on it now (empty for an endpoint no partner uses any more)."""


class ReadFetchHealth:
    """Circuit states per partner endpoint and recent fetch anomalies."""

    def __init__(
        self, uow: UnitOfWorkFactory, audit: AuditLog, circuits: CircuitStates, clock: Clock
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._circuits = circuits
        self._clock = clock

    def circuits(self) -> list[EndpointCircuit]:
        """Every partner endpoint and every endpoint fetched so far, by endpoint."""
        with self._uow(read_only=True) as uow:
            partners = uow.partners.all()
        by_endpoint: dict[str, tuple[CircuitSnapshot, list[str]]] = {
            endpoint: (snapshot, []) for endpoint, snapshot in self._circuits.states().items()
        }
        for partner in partners:
            snapshot = self._circuits.circuit_for(partner.endpoint) if partner.endpoint else None
            if snapshot is None:
                continue  # no endpoint, or one no fetch could ever reach
            by_endpoint.setdefault(snapshot.endpoint, (snapshot, []))[1].append(partner.id)
        return [
            EndpointCircuit(snapshot, tuple(sorted(ids)))
            for _, (snapshot, ids) in sorted(by_endpoint.items())
        ]

    def circuit_counts(self) -> Mapping[CircuitState, int]:
        """Endpoints fetched so far, per circuit state (every state present, 0 included)."""
        counts = dict.fromkeys(CircuitState, 0)
        for snapshot in self._circuits.states().values():
            counts[snapshot.state] += 1
        return counts

    def recent_anomalies(self) -> int:
        """`fetch_anomaly` audit entries of the last hour."""
        since = self._clock.now() - ANOMALY_WINDOW
        query = AuditQuery(since=since, action=AuditAction.FETCH_ANOMALY, limit=_MAX_ANOMALIES)
        return len(self._audit.query(query))
