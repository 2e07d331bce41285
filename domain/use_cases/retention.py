"""Use case: delete what a store keeps past its retention, a bounded batch per unit of work.

One mechanism for every log that grows with traffic and is read only while recent: the
diagnostics of rejected items (ADR 0033) and the webhook delivery log (ADR 0034). Each
names its retention and the repository's batch delete; `PurgePastRetention` deletes
until a batch comes back short, committing each, so a purge of a million rows holds
no lock, and no memory, longer than one batch. The workers run it periodically and
`partner-ingest purge` on demand (`Application.purge_retained`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from partner_ingest.domain.model.errors import InvalidError
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = ["BatchPurge", "PurgePastRetention", "PurgeWebhookDeliveries"]

BatchPurge = Callable[[UnitOfWork, datetime, int], int]
"""Delete up to `limit` (the int) rows older than the instant, in the unit of work; how many."""


class PurgePastRetention:
    """Deletes the rows `purge` names older than now minus `retention_days`, in batches."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        purge: BatchPurge,
        *,
        retention_days: int,
        what: str,
        batch: int = 5000,
    ) -> None:
        if retention_days < 1:
            raise InvalidError(f"{what} retention must be at least 1 day, got {retention_days}")
        self._uow = uow
        self._clock = clock
        self._purge = purge
        self.retention = timedelta(days=retention_days)
        self._batch = batch

    def __call__(self) -> int:
        """Purge until nothing is left past the retention; how many were deleted."""
        before = self._clock.now() - self.retention
        total = 0
        while True:
            with self._uow() as uow:
                purged = self._purge(uow, before, self._batch)
                uow.commit()
            total += purged
            if purged < self._batch:
                return total


class PurgeWebhookDeliveries(PurgePastRetention):
    """Deletes the finished webhook deliveries (delivered or given up) older than the
    retention; a delivery still to be attempted is never purged, whatever its age."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, retention_days: int, batch: int = 5000
    ) -> None:
        super().__init__(
            uow,
            clock,
            lambda unit, before, limit: unit.webhooks.purge_deliveries(before, limit=limit),
            retention_days=retention_days,
            what="webhook delivery",
            batch=batch,
        )
