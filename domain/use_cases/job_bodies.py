"""Use case: keep job feed bodies only as long as they serve something (ADR 0025).

A job's body is the whole feed (up to 512 MiB by default). Once the job has
succeeded or was cancelled, nothing reads it again, so by default it goes at
once; a dead job's body stays for the retention an operator sets, because an
admin's revive processes it again. `BodyRetention` (domain/model/jobs.py) is
the rule; the worker runs the purge after each success and periodically.
"""

from __future__ import annotations

from typing import Final

from partner_ingest.domain.model.jobs import BodyRetention
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.repositories import StoredBodies
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["PURGE_BATCH", "PurgeJobBodies"]

PURGE_BATCH: Final = 200
"""Bodies deleted per transaction: a backlog (the first purge after an upgrade) never holds
the store's writer for long."""


class PurgeJobBodies:
    """Delete the feed bodies the retention lets go; report what is kept."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, retention: BodyRetention | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self.retention = retention or BodyRetention()

    def __call__(self, *, max_batches: int = 1000) -> int:
        """Purge every body due now, a batch per transaction; how many were purged."""
        total = 0
        for _ in range(max_batches):
            with self._uow() as uow:
                purged = uow.jobs.purge_bodies(self.retention, self._clock.now(), limit=PURGE_BATCH)
                uow.commit()
            total += purged
            if purged < PURGE_BATCH:
                break
        return total

    def after_success(self) -> int:
        """The purge a success calls for: none while succeeded bodies are retained, else one batch
        (this job's body, and any other due; the periodic purge catches up the rest)."""
        if self.retention.finished:
            return 0
        return self(max_batches=1)

    def stored(self) -> StoredBodies:
        """How many bodies the store keeps, and their bytes (metrics)."""
        with self._uow(read_only=True) as uow:
            return uow.jobs.stored_bodies()
