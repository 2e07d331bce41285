"""Use case: walk the audit chain from its first entry and say whether every link holds (ADR 0028).

The trail is read in batches by id, so memory stays bounded however long it is;
entries appended meanwhile extend the walk (they chain onto the last one read).
`CachedAuditVerdict` keeps the last verdict for an interval, for /metrics.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final

import attrs

from partner_ingest.domain.model.audit_chain import ChainVerdict, ChainWalk
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.repositories import AuditLog

__all__ = ["CachedAuditVerdict", "TimedVerdict", "VerifyAuditChain"]

_BATCH: Final = 1000


class VerifyAuditChain:
    """Every entry's hash recomputed and every link followed, oldest first."""

    def __init__(self, audit: AuditLog, *, batch: int = _BATCH) -> None:
        self._audit = audit
        self._batch = batch

    def __call__(self) -> ChainVerdict:
        """The verdict: how many entries hold, and the first broken link if one does not."""
        walk = ChainWalk()
        while True:
            links = self._audit.links(walk.verdict.last_id or 0, self._batch)
            walk = walk.then(links)
            if not walk.verdict.ok or len(links) < self._batch:
                return walk.verdict


@attrs.frozen
class TimedVerdict:
    """A verdict and when it was reached."""

    verdict: ChainVerdict
    at: datetime


class CachedAuditVerdict:
    """The last verdict, renewed when older than `interval` (one walk at a time, whoever asks)."""

    def __init__(self, verify: VerifyAuditChain, clock: Clock, interval: timedelta) -> None:
        self._verify = verify
        self._clock = clock
        self._interval = interval
        self._last: TimedVerdict | None = None
        self._lock = threading.Lock()

    def __call__(self) -> TimedVerdict:
        """The cached verdict, or a new one if it is due (a failed read raises and caches nothing)."""
        with self._lock:
            now = self._clock.now()
            if self._last is None or now - self._last.at >= self._interval:
                self._last = TimedVerdict(self._verify(), now)
            return self._last
