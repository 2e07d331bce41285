"""Use cases: jobs as partners and admins see them, and what an admin or a partner may do to one
(revive a dead job, cancel an unfinished one). Each change is a transition of the domain `Job`."""

from __future__ import annotations

from typing import Any, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, NotFoundError
from partner_ingest.domain.model.jobs import Job, JobStatus
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .paging import PageRequestError, check_limit

__all__ = [
    "MAX_JOB_OFFSET",
    "MAX_JOB_PAGE",
    "MAX_JOB_SCAN",
    "MAX_RETRY_BATCH",
    "BulkRetry",
    "JobBodyPurgedError",
    "JobFinishedError",
    "JobNotDeadError",
    "JobPage",
    "QueryJobs",
]

MAX_JOB_PAGE: Final = 200
MAX_RETRY_BATCH: Final = 500
"""Most dead jobs one bulk retry revives."""
MAX_JOB_SCAN: Final = 10_000
"""Deepest job a page may reach (offset + limit): see `QueryJobs.page`."""
MAX_JOB_OFFSET: Final = MAX_JOB_SCAN - MAX_JOB_PAGE
"""Largest offset: one bound of its own (rather than one on offset + limit), so a client can
read it in the API document and any page size up to MAX_JOB_PAGE stays within MAX_JOB_SCAN."""


class QueryJobs:
    """Jobs as partners and admins see them; a partner sees only its own."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def get(self, job_id: str, *, partner_id: str | None) -> Job:
        """One job; NotFoundError also for another partner's job (404, not 403)."""
        with self._uow(read_only=True) as uow:
            job = uow.jobs.get(job_id)
        if job is None or (partner_id is not None and job.partner_id != partner_id):
            raise NotFoundError("job", job_id)
        return job

    def recent(
        self, *, partner_id: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[Job]:
        """Most recent first."""
        with self._uow(read_only=True) as uow:
            return uow.jobs.recent(partner_id=partner_id, status=status, limit=limit)

    def page(
        self,
        *,
        partner_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        """A page of jobs, most recent first; PageRequestError for a limit or offset out of bounds.

        Paged by offset, because the job repository can only list the most recent jobs:
        new jobs arriving between two pages push older ones down, so a page may repeat
        a job of the previous one (it never skips one). Deep pages cost their offset,
        hence MAX_JOB_SCAN; filter by status or partner to go further back.
        """
        check_limit(limit, MAX_JOB_PAGE)
        if not 0 <= offset <= MAX_JOB_OFFSET:
            raise PageRequestError(
                f"offset must be from 0 to {MAX_JOB_OFFSET}; filter by status or partner to go deeper",
                field="offset",
            )
        # One job more than asked tells whether there is a next page, without a count.
        found = self.recent(partner_id=partner_id, status=status, limit=offset + limit + 1)
        jobs = tuple(found[offset : offset + limit])
        more = len(found) > offset + limit
        return JobPage(jobs=jobs, next_offset=offset + limit if more else None)

    def retry(self, job_id: str, *, actor: str, client: str | None = None) -> Job:
        """Admin: revive a dead job (queued again, attempts reset); NotFoundError when unknown,
        JobNotDeadError when it is not dead, JobBodyPurgedError when its body is gone (both
        conflicts)."""
        now = self._clock.now()
        with self._uow() as uow:
            if not uow.jobs.revive(job_id, now):
                job = uow.jobs.get(job_id)
                if job is None:
                    raise NotFoundError("job", job_id)
                if job.status is JobStatus.DEAD:
                    raise JobBodyPurgedError(job_id)
                raise JobNotDeadError(job_id, job.status)
            job = uow.jobs.get(job_id)
            assert job is not None  # retried just now, in this unit of work
            uow.audit.append(
                AuditEntry(
                    now,
                    AuditAction.ADMIN_ACTION,
                    Outcome.SUCCESS,
                    actor,
                    partner_id=job.partner_id,
                    client=client,
                    details={"retried_job": job_id},
                )
            )
            uow.commit()
        return job

    def retry_dead(
        self, *, partner_id: str | None = None, limit: int = 100, actor: str, client: str | None = None
    ) -> BulkRetry:
        """Admin: revive up to `limit` dead jobs (of one partner, or of all), most recent first,
        in one unit of work, audited once; those whose body was purged stay dead and are named."""
        check_limit(limit, MAX_RETRY_BATCH)
        now = self._clock.now()
        with self._uow() as uow:
            dead = uow.jobs.recent(partner_id=partner_id, status=JobStatus.DEAD, limit=limit)
            retried = [job.id for job in dead if uow.jobs.revive(job.id, now)]
            kept = [job.id for job in dead if job.id not in set(retried)]
            uow.audit.append(
                AuditEntry(
                    now,
                    AuditAction.ADMIN_ACTION,
                    Outcome.SUCCESS,
                    actor,
                    partner_id=partner_id,
                    client=client,
                    details={
                        "retried_dead_jobs": len(retried),
                        "body_purged": len(kept),
                        "partner_filter": partner_id,
                        "first_job": retried[0] if retried else None,
                    },
                )
            )
            uow.commit()
        return BulkRetry(tuple(retried), tuple(kept))

    def cancel(self, job_id: str, *, partner_id: str | None, actor: str, client: str | None = None) -> Job:
        """Cancel a queued or running job (a partner its own: `partner_id`; an admin any: None).

        A running job's worker loses its lease: its feed stops at the next read once its
        heartbeat notices, and nothing it wrote is committed. NotFoundError when unknown (or
        another partner's), JobFinishedError (a conflict) when it has finished already.
        """
        now = self._clock.now()
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            if job is None or (partner_id is not None and job.partner_id != partner_id):
                raise NotFoundError("job", job_id)
            if not uow.jobs.cancel(job_id, now):
                finished = uow.jobs.get(job_id)  # it may have finished since it was read
                raise JobFinishedError(job_id, job.status if finished is None else finished.status)
            cancelled = uow.jobs.get(job_id)
            assert cancelled is not None  # cancelled just now, in this unit of work
            uow.audit.append(
                AuditEntry(
                    now,
                    AuditAction.JOB_CANCELLED,
                    Outcome.SUCCESS,
                    actor,
                    partner_id=job.partner_id,
                    client=client,
                    details={"job_id": job_id, "was": str(job.status)},
                )
            )
            uow.commit()
        return cancelled

    def queue_depth(self) -> dict[str, int]:
        """Jobs per status (metrics)."""
        with self._uow(read_only=True) as uow:
            return {str(k): v for k, v in uow.jobs.status_counts().items()}


@attrs.frozen
class JobPage:
    """One page of jobs, most recent first, and the offset of the next page."""

    jobs: tuple[Job, ...]
    next_offset: int | None
    """Pass as `offset` to read the next page; None on the last page."""


@attrs.frozen
class BulkRetry:
    """What a bulk retry did: the jobs queued again, and the dead ones whose body is gone."""

    retried: tuple[str, ...]
    body_purged: tuple[str, ...]


class JobNotDeadError(ConflictError):
    """Only a dead job can be retried by hand; this one is queued, running, succeeded or cancelled."""

    code = "job_not_dead"

    def __init__(self, job_id: str, status: JobStatus) -> None:
        super().__init__(f"job {job_id!r} is {status}: only dead jobs can be retried")
        self.job_id = job_id
        self.status = status

    @property
    def details(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": str(self.status)}


class JobBodyPurgedError(ConflictError):
    """A dead job whose feed body was deleted by retention cannot be retried: nothing is left to process."""

    code = "job_body_purged"

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id!r} is dead and its feed body was purged by retention: send the feed again"
        )
        self.job_id = job_id

    @property
    def details(self) -> dict[str, Any]:
        return {"job_id": self.job_id}


class JobFinishedError(ConflictError):
    """Only a queued or running job can be cancelled; this one has finished."""

    code = "job_finished"

    def __init__(self, job_id: str, status: JobStatus) -> None:
        super().__init__(f"job {job_id!r} is {status}: only queued or running jobs can be cancelled")
        self.job_id = job_id
        self.status = status

    @property
    def details(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": str(self.status)}
