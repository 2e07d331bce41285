"""The in-memory job queue: every change is a transition of the domain `Job`, applied as is.

The SQL stores implement the same transitions and the same queue rule
(`next_claim`) in SQL; this store simply calls them, so it is the reference the
stateful property test compares the others with.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO

import attrs

from partner_ingest.adapters_out.store_errors import EXISTS, IDEMPOTENCY_TAKEN
from partner_ingest.domain.model.errors import ConflictError, IdempotencyKeyTaken, NotFoundError
from partner_ingest.domain.model.jobs import (
    BodyRetention,
    Job,
    JobStatus,
    Lease,
    PartnerQueue,
    next_claim,
)
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import StoredBodies

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryJobRepository", "JobTables"]


@attrs.define
class JobTables:
    """The queue's tables: jobs, their bodies, their submission order, each partner's last claim."""

    jobs: dict[str, Job] = attrs.Factory(dict)
    bodies: dict[str, bytes] = attrs.Factory(dict)
    order: dict[str, int] = attrs.Factory(dict)
    """Job id -> its position in the submission order (never reused)."""
    last_claims: dict[str, int] = attrs.Factory(dict)
    """Partner id -> running number of its latest claim (absent: never served)."""


class InMemoryJobRepository:
    """The job queue, with leases."""

    def __init__(self, tables: JobTables, undo: UndoLog) -> None:
        self._t = tables
        self._undo = undo

    def add(self, job: Job, body: BinaryIO) -> None:
        """Store a job and its body, last in the submission order."""
        t = self._t
        if job.id in t.jobs:
            raise ConflictError(f"job {job.id!r} {EXISTS}")
        key = job.idempotency_key
        if key is not None and self._by_idempotency_key(job.partner_id, key) is not None:
            raise IdempotencyKeyTaken(f"job {job.id!r} {IDEMPOTENCY_TAKEN}")
        self._undo.set(t.bodies, job.id, body.read())
        self._undo.set(t.order, job.id, max(t.order.values(), default=0) + 1)
        self._undo.set(t.jobs, job.id, job)

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        return self._t.jobs.get(job_id)

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body."""
        body = self._t.bodies.get(job_id)
        if body is None:
            raise NotFoundError("job body", job_id)
        return io.BytesIO(body)

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks; recorded as its partner's latest claim."""
        t = self._t
        open_jobs: dict[str, list[Job]] = {}
        for job in sorted(t.jobs.values(), key=lambda j: t.order[j.id]):
            if not job.status.finished:
                open_jobs.setdefault(job.partner_id, []).append(job)
        queues = [PartnerQueue(pid, jobs, t.last_claims.get(pid)) for pid, jobs in open_jobs.items()]
        chosen = next_claim(queues, now)
        if chosen is None:
            return None
        claimed = chosen.claim(now, lease_for, token)
        assert claimed is not None  # next_claim picks claimable jobs only
        self._undo.set(t.jobs, claimed.id, claimed)
        self._undo.set(t.last_claims, claimed.partner_id, max(t.last_claims.values(), default=0) + 1)
        return claimed

    def _apply(self, job_id: str, transition: Callable[[Job], Job | None]) -> bool:
        job = self._t.jobs.get(job_id)
        after = None if job is None else transition(job)
        if after is None:
            return False
        self._undo.set(self._t.jobs, job_id, after)
        return True

    def renew(self, lease: Lease, until: datetime) -> bool:
        """Push the lease further while held."""
        return self._apply(lease.job_id, lambda job: job.renew(lease.token, until))

    def record_progress(self, lease: Lease, items_read: int, bytes_read: int) -> bool:
        """How far the feed has been read, while held."""
        return self._apply(lease.job_id, lambda job: job.progressed(lease.token, items_read, bytes_read))

    def complete(self, lease: Lease, report: IngestReport, now: datetime) -> bool:
        """Succeeded, with its report."""
        return self._apply(lease.job_id, lambda job: job.complete(lease.token, report, now))

    def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> bool:
        """Queue again at retry_at, or dead."""
        return self._apply(lease.job_id, lambda job: job.fail(lease.token, error, now, retry_at))

    def release(self, lease: Lease, now: datetime) -> bool:
        """Back to the queue, the attempt not counted."""
        return self._apply(lease.job_id, lambda job: job.release(lease.token, now))

    def revive(self, job_id: str, now: datetime) -> bool:
        """Requeue a dead job whose body is kept."""
        return self._apply(job_id, lambda job: job.revive(now))

    def cancel(self, job_id: str, now: datetime) -> bool:
        """Cancel a queued or running job."""
        return self._apply(job_id, lambda job: job.cancel(now))

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""
        t = self._t
        due = sorted(
            (job for job in t.jobs.values() if job.purge_body(now, retention) is not None),
            key=lambda job: (job.finished_at, t.order[job.id]),
        )[:limit]
        for job in due:
            purged = job.purge_body(now, retention)
            assert purged is not None
            self._undo.set(t.jobs, job.id, purged)
            self._undo.delete(t.bodies, job.id)
        return len(due)

    def stored_bodies(self) -> StoredBodies:
        """How many bodies are kept, and their bytes."""
        return StoredBodies(len(self._t.bodies), sum(len(body) for body in self._t.bodies.values()))

    def _by_idempotency_key(self, partner_id: str, key: str) -> Job | None:
        """The job submitted under this key."""
        for job in self._t.jobs.values():
            if job.partner_id == partner_id and job.idempotency_key == key:
                return job
        return None

    def recent(
        self, *, partner_id: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[Job]:
        """Most recent first."""
        jobs = [
            j for j in self._t.jobs.values()
            if (partner_id is None or j.partner_id == partner_id) and (status is None or j.status is status)
        ]  # fmt: skip
        return sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)[:limit]

    def status_counts(self) -> Mapping[JobStatus, int]:
        """Jobs per status."""
        counts = dict.fromkeys(JobStatus, 0)
        for job in self._t.jobs.values():
            counts[job.status] += 1
        return counts
