"""Use case: purge the products retired longer than the retention (ADR 0036).

A retired product keeps its row so that reads can list it (`retired=True`) and a
later feed can restore it; after the retention it goes. Its history is in the
audit trail, which is never purged with it.
"""

from __future__ import annotations

from datetime import timedelta

from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["PurgeChanges", "PurgeRetiredProducts"]


class PurgeRetiredProducts:
    """Delete the products retired before now minus `retention`."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, retention: timedelta = timedelta(days=90)
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.retention = retention

    def __call__(self) -> int:
        """Purge them in one unit of work; how many were."""
        with self._uow() as uow:
            purged = uow.products.purge_retired(self._clock.now() - self.retention)
            uow.commit()
        return purged


class PurgeChanges:
    """Delete the change records older than now minus `retention` (ADR 0037)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, retention: timedelta = timedelta(days=30)
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.retention = retention

    def __call__(self) -> int:
        """Purge them in one unit of work; how many were."""
        with self._uow() as uow:
            purged = uow.changes.purge(self._clock.now() - self.retention)
            uow.commit()
        return purged
