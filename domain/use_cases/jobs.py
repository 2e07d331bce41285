"""Use cases of the job queue: submit a feed as a job, process the next job (looking jobs up,
reviving and cancelling them is in query_jobs.py, re-exported here).

A job, once accepted, is never lost and never applied twice:
- submission commits the job and its body durably before the caller answers 202;
- processing claims the job under a lease with a fresh token, and writes the
  products, the ledger entry, the audit entries and the job's completion in
  ONE unit of work, committed only while that token still holds the lease: a
  worker that lost its lease (slept, was killed) changes nothing;
- a crash rolls the whole feed back; after the lease expires another worker
  takes the job again;
- identical content from the same partner is recognized by hash (the ingest
  answers with the earlier report) and not applied twice; the queue gives a
  partner one running job at a time, in submission order, so two copies are
  never processed side by side and a later feed never overtakes an earlier one.

Every change of a job is a transition of the domain `Job` (ADR 0021).
"""

from __future__ import annotations

import contextlib
import enum
import io
import random
from collections.abc import Callable
from datetime import timedelta
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, IngestError, NotFoundError, UnavailableError
from partner_ingest.domain.model.jobs import Backoff, Job, JobStatus, Lease
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.formats import FormatRegistry
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .ingest_feed import FeedSubmission, IngestFeed, effective_policy, resolve_format
from .job_bodies import PurgeJobBodies
from .query_jobs import (
    MAX_JOB_PAGE,
    MAX_JOB_SCAN,
    JobBodyPurgedError,
    JobFinishedError,
    JobNotDeadError,
    JobPage,
    QueryJobs,
)
from .streams import RawReader

__all__ = [
    "MAX_JOB_PAGE",
    "MAX_JOB_SCAN",
    "JobBodyPurgedError",
    "JobFinishedError",
    "JobNotDeadError",
    "JobOutcome",
    "JobPage",
    "JobResult",
    "ProcessNextJob",
    "QueryJobs",
    "SubmitFeedJob",
]


class SubmitFeedJob:
    """Accept a feed now, process it later: the job and its body are stored durably."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        formats: FormatRegistry,
        clock: Clock,
        ids: IdSource,
        *,
        max_attempts: int = 5,
    ) -> None:
        self._uow = uow
        self._formats = formats
        self._clock = clock
        self._ids = ids
        self._max_attempts = max_attempts

    def __call__(self, submission: FeedSubmission, *, body_bytes: int, content_hash: str) -> Job:
        """The stored job (or the one already submitted under the same Idempotency-Key).

        Everything that can be refused without reading the feed is refused here,
        before anything is stored: unknown partner, format or version, a policy
        override the partner may not make.

        Two submissions under one Idempotency-Key at the same moment (a client's retry
        that a load balancer sends to another instance while the first still stores the
        body) both find no job under the key; the store lets one of them add its job
        and refuses the other (ConflictError), which then answers with the winner's job.
        """
        try:
            return self._submit(submission, body_bytes=body_bytes, content_hash=content_hash)
        except ConflictError:
            key = submission.idempotency_key
            if key is None:
                raise
            # The conflict came once the other submission had committed: a new unit of work sees it.
            with self._uow(read_only=True) as uow:
                earlier = uow.jobs.by_idempotency_key(submission.partner_id, key)
            if earlier is None:
                raise
            return earlier

    def _submit(self, submission: FeedSubmission, *, body_bytes: int, content_hash: str) -> Job:
        with self._uow() as uow:
            partner = uow.partners.get(submission.partner_id)
            if partner is None or not partner.active:
                raise NotFoundError("partner", submission.partner_id)
            fmt = resolve_format(self._formats, partner, submission)
            policy = effective_policy(partner, submission.policy)
            if submission.idempotency_key is not None:
                earlier = uow.jobs.by_idempotency_key(partner.id, submission.idempotency_key)
                if earlier is not None:
                    return earlier
            now = self._clock.now()
            job = Job(
                id=self._ids.new_id("job"),
                partner_id=partner.id,
                format=fmt.name,
                version=fmt.version,
                status=JobStatus.QUEUED,
                created_at=now,
                available_at=now,
                content_hash=content_hash,
                body_bytes=body_bytes,
                max_attempts=self._max_attempts,
                policy=None if policy == partner.policy else policy,
                idempotency_key=submission.idempotency_key,
                source=submission.source,
            )
            uow.jobs.add(job, submission.body)
            uow.audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.JOB_SUBMITTED,
                    outcome=Outcome.SUCCESS,
                    actor=partner.id,
                    partner_id=partner.id,
                    client=submission.client,
                    details={
                        "job_id": job.id,
                        "format": job.format,
                        "version": job.version,
                        "bytes": body_bytes,
                        "source": job.source,
                    },
                )
            )
            uow.commit()  # durable: the caller answers 202 on it
            return job


class JobOutcome(enum.StrEnum):
    """What happened to a claimed job."""

    SUCCEEDED = "succeeded"
    """Processed (the feed itself may have been rejected: see the report)."""
    RETRYING = "retrying"
    DEAD = "dead"
    LEASE_LOST = "lease_lost"
    """The lease is gone (it expired and another worker took the job, or the job was
    cancelled): nothing this worker did was kept."""
    RELEASED = "released"
    """Interrupted (shutdown): nothing was kept, the job is queued again, the attempt not counted."""


@attrs.frozen
class JobResult:
    """One processed job."""

    job: Job
    outcome: JobOutcome
    report: IngestReport | None = None
    error: str | None = None


class ProcessNextJob:
    """Claim the next available job and process it under its lease: exactly once."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ingest: IngestFeed,
        clock: Clock,
        ids: IdSource,
        *,
        lease_seconds: float = 60.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        jitter: Callable[[], float] = random.random,
        bodies: PurgeJobBodies | None = None,
    ) -> None:
        self._uow = uow
        self._ingest = ingest
        self._clock = clock
        self._ids = ids
        self.lease_for = timedelta(seconds=lease_seconds)
        self._backoff = Backoff(backoff_base, backoff_cap)
        self._jitter = jitter
        self._bodies = bodies or PurgeJobBodies(uow, clock)

    def claim(self) -> tuple[Job, Lease] | None:
        """Take the next job under a fresh lease token (its own short transaction): the queue
        picks it (`next_claim`: one running job per partner, in submission order, partners
        served in turn)."""
        token = self._ids.new_id("lease")
        now = self._clock.now()
        with self._uow() as uow:
            job = uow.jobs.claim(now, self.lease_for, token)
            uow.commit()
        if job is None:
            return None
        return job, Lease(job.id, token, now + self.lease_for)

    def __call__(self) -> JobResult | None:
        """Process one job, or return None when none is available."""
        claimed = self.claim()
        if claimed is None:
            return None
        return self.process(*claimed)

    def process(
        self, job: Job, lease: Lease, *, interrupted: Callable[[], bool] = lambda: False
    ) -> JobResult:
        """Ingest a claimed job's feed and finish the job, all or nothing.

        `interrupted` is asked before each read of the feed body: once it answers
        True (the worker is shutting down, or its heartbeat found the lease gone) the
        feed stops where it is, everything it wrote is rolled back, and the job is
        released for another worker (`lease_lost` when the lease was gone already:
        the job was cancelled, or taken over).
        """
        try:
            result = self._apply(job, lease, interrupted)
        except _Interrupted:
            return self._release(job, lease)
        except UnavailableError as error:  # the store is busy or gone for now: a later attempt may pass
            return self._fail(job, lease, f"{error.code}: {error}", permanent=False)
        except IngestError as error:
            # The feed can never be processed as submitted (partner gone, format
            # removed, policy no longer allowed): retrying would not help.
            return self._fail(job, lease, f"{error.code}: {error}", permanent=True)
        except Exception as error:
            return self._fail(job, lease, f"{type(error).__name__}: {error}", permanent=False)
        if result.outcome is JobOutcome.SUCCEEDED:
            # The job is done; if the store cannot purge now, the periodic purge does it later.
            with contextlib.suppress(UnavailableError):
                self._bodies.after_success()
        return result

    def renew(self, lease: Lease) -> bool:
        """Push the lease further while a long feed runs (called by the worker's heartbeat);
        False once the lease is gone (the job was cancelled, or taken over after it expired)."""
        with self._uow() as uow:
            held = uow.jobs.renew(lease, self._clock.now() + self.lease_for)
            uow.commit()
        return held

    def holds(self, lease: Lease) -> bool:
        """Is the lease still held? A read, for a heartbeat that checks more often than it renews."""
        with self._uow(read_only=True) as uow:
            job = uow.jobs.get(lease.job_id)
        return job is not None and job.held_by(lease.token)

    def release(self, lease: Lease) -> bool:
        """Give a claimed job back untouched (shutdown): queued again, the attempt not counted.

        False when the lease is no longer held (the job finished, or another worker has
        it). Whatever the holder is still doing can no longer commit: its token is gone.
        """
        with self._uow() as uow:
            released = uow.jobs.release(lease, self._clock.now())
            uow.commit()
        return released

    def _release(self, job: Job, lease: Lease) -> JobResult:
        # The feed's unit of work has rolled back, so nothing holds a lock this needs.
        if not self.release(lease):
            return JobResult(job, JobOutcome.LEASE_LOST)
        return JobResult(job, JobOutcome.RELEASED)

    def _apply(self, job: Job, lease: Lease, interrupted: Callable[[], bool]) -> JobResult:
        ingest = self._ingest
        with self._uow() as uow:
            stored = uow.jobs.open_body(job.id)
            body: BinaryIO = io.BufferedReader(_InterruptibleReader(stored, interrupted), _READ_CHUNK)
            try:
                submission = FeedSubmission(
                    partner_id=job.partner_id,
                    body=body,
                    format=job.format,
                    version=job.version,
                    policy=job.policy,
                    content_hash=job.content_hash,
                    job_id=job.id,
                    source=job.source,
                )
                report = ingest.earlier_report(uow, submission) or ingest.apply(uow, submission)
            finally:
                body.close()
                stored.close()
            if report.applied:
                if not uow.jobs.complete(lease, report, self._clock.now()):
                    uow.rollback()
                    return JobResult(job, JobOutcome.LEASE_LOST)
                uow.commit()
                return JobResult(job, JobOutcome.SUCCEEDED, report)
            uow.rollback()
        # A rejected feed is a processed job: record the rejection, finish the job.
        with self._uow() as uow:
            if not uow.jobs.complete(lease, report, self._clock.now()):
                uow.rollback()
                return JobResult(job, JobOutcome.LEASE_LOST)
            ingest.record(uow, submission, report, content_hash=job.content_hash)
            uow.commit()
        return JobResult(job, JobOutcome.SUCCEEDED, report)

    def _fail(self, job: Job, lease: Lease, error: str, *, permanent: bool) -> JobResult:
        now = self._clock.now()
        retry_at = job.retry_at(now, permanent=permanent, backoff=self._backoff, jitter=self._jitter())
        dead = retry_at is None
        with self._uow() as uow:
            if not uow.jobs.fail(lease, error[:2000], retry_at, now):
                uow.rollback()
                return JobResult(job, JobOutcome.LEASE_LOST, error=error)
            uow.audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.JOB_DEAD if dead else AuditAction.JOB_FAILED,
                    outcome=Outcome.FAILED,
                    actor="system",
                    partner_id=job.partner_id,
                    details={"job_id": job.id, "attempt": job.attempts, "error": error[:500]},
                )
            )
            uow.commit()
        return JobResult(job, JobOutcome.DEAD if dead else JobOutcome.RETRYING, error=error)


_READ_CHUNK: Final = 1 << 20


class _Interrupted(BaseException):
    """The worker was told to stop mid-feed. A BaseException, like KeyboardInterrupt, so that
    no parser's `except Exception` can turn a shutdown into a rejected feed."""


class _InterruptibleReader(RawReader):
    """A job's stored body that raises `_Interrupted` at the next read once told to stop."""

    def __init__(self, inner: BinaryIO, interrupted: Callable[[], bool]) -> None:
        self._inner = inner
        self._interrupted = interrupted

    def read_some(self, size: int) -> bytes:
        if self._interrupted():
            raise _Interrupted
        return self._inner.read(size)
