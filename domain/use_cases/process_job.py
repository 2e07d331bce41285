"""Use case: process the next job under its lease (the second half of the job queue, ADR 0025;
its one ingest is ADR 0023).

Invariant: a claimed job is applied exactly once or not at all. Processing claims the job
under a lease with a fresh token and runs one ingest whose last step completes the job: the
products, the ledger entry, the audit entries and the completion commit together, only while
that token still holds the lease, so a worker that lost its lease (slept, was killed, or its
job was cancelled) changes nothing. A crash rolls the whole feed back; after the lease expires
another worker takes the job again. Every change of a job is a transition of the domain `Job`.
"""

from __future__ import annotations

import contextlib
import enum
import io
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import IngestError, UnavailableError
from partner_ingest.domain.model.jobs import Backoff, Job, Lease
from partner_ingest.domain.model.policy import PolicyOverrides
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.model.streams import RawReader
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .feed_terms import FeedSubmission, Ingested, IngestStep, StoredBody
from .ingest_feed import IngestFeed
from .job_bodies import PurgeJobBodies

__all__ = ["JobOutcome", "JobProgress", "JobResult", "ProcessNextJob"]


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
        on_dead: Callable[[UnitOfWork, Job, str], None] | None = None,
    ) -> None:
        """`on_dead` runs in the unit of work that makes a job dead (a queued webhook event)."""
        self._uow = uow
        self._ingest = ingest
        self._clock = clock
        self._ids = ids
        self.lease_for = timedelta(seconds=lease_seconds)
        self._backoff = Backoff(backoff_base, backoff_cap)
        self._jitter = jitter
        self._bodies = bodies or PurgeJobBodies(uow, clock)
        self._on_dead = on_dead

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
        self,
        job: Job,
        lease: Lease,
        *,
        interrupted: Callable[[], bool] = lambda: False,
        progress: JobProgress | None = None,
    ) -> JobResult:
        """Ingest a claimed job's feed and finish the job, all or nothing.

        `interrupted` is asked before each read of the feed body: once it answers
        True (the worker is shutting down, or its heartbeat found the lease gone) the
        feed stops where it is, everything it wrote is rolled back, and the job is
        released for another worker (`lease_lost` when the lease was gone already:
        the job was cancelled, or taken over).
        """
        try:
            result = self._apply(job, lease, interrupted, progress or JobProgress())
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

    def renew(self, lease: Lease, progress: JobProgress | None = None) -> bool:
        """Push the lease further while a long feed runs (called by the worker's heartbeat), and
        record how far the feed has been read; False once the lease is gone (the job was
        cancelled, or taken over after it expired)."""
        with self._uow() as uow:
            held = uow.jobs.renew(lease, self._clock.now() + self.lease_for)
            if held and progress is not None:
                uow.jobs.record_progress(lease, progress.items, progress.bytes)
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

    def _apply(
        self, job: Job, lease: Lease, interrupted: Callable[[], bool], progress: JobProgress
    ) -> JobResult:
        """One ingest whose last step completes the job: both commit, or neither."""
        submission = FeedSubmission(
            partner_id=job.partner_id,
            body=_JobBody(job.id, interrupted, progress),
            on_items=progress.read_items,
            format=job.format,
            version=job.version,
            overrides=PolicyOverrides.of(job.policy),
            content_hash=job.content_hash,
            job_id=job.id,
            source=job.source,
            feed_mode=job.feed_mode,
        )
        try:
            report = self._ingest(submission, steps=[self._completes(lease)])
        except _LeaseLost:
            return JobResult(job, JobOutcome.LEASE_LOST)
        return JobResult(job, JobOutcome.SUCCEEDED, report)

    def _completes(self, lease: Lease) -> IngestStep:
        """The step that marks the job succeeded with the feed's report, while `lease` holds."""

        def complete(uow: UnitOfWork, ingested: Ingested) -> None:
            if not uow.jobs.complete(lease, ingested.report, self._clock.now()):
                raise _LeaseLost

        return complete

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
            if dead and self._on_dead is not None:
                self._on_dead(uow, job, error)
            uow.commit()
        return JobResult(job, JobOutcome.DEAD if dead else JobOutcome.RETRYING, error=error)


_READ_CHUNK: Final = 1 << 20


class _Interrupted(BaseException):
    """The worker was told to stop mid-feed. A BaseException, like KeyboardInterrupt, so that
    no parser's `except Exception` can turn a shutdown into a rejected feed."""


class _LeaseLost(Exception):
    """Another worker holds the job now: the ingest rolls back, nothing of it is kept."""


class JobProgress:
    """How far a running job has read its feed: written by the ingesting thread, read by the
    worker's heartbeat (plain int attributes: each read sees one whole value)."""

    def __init__(self) -> None:
        self.items = 0
        self.bytes = 0

    def read_items(self, items: int) -> None:
        """Items read so far (the pipeline says so after each batch)."""
        self.items = items


class _JobBody(StoredBody):
    """A job's stored body, which stops at its next read once the worker is told to stop."""

    def __init__(self, job_id: str, interrupted: Callable[[], bool], progress: JobProgress) -> None:
        self._job_id = job_id
        self._interrupted = interrupted
        self._progress = progress

    @contextmanager
    def open(self, uow: UnitOfWork) -> Iterator[BinaryIO]:
        stored = uow.jobs.open_body(self._job_id)
        try:
            reader = _InterruptibleReader(stored, self._interrupted, self._progress)
            with io.BufferedReader(reader, _READ_CHUNK) as body:
                yield body
        finally:
            stored.close()


class _InterruptibleReader(RawReader):
    """A job's stored body that raises `_Interrupted` at the next read once told to stop."""

    def __init__(self, inner: BinaryIO, interrupted: Callable[[], bool], progress: JobProgress) -> None:
        self._inner = inner
        self._interrupted = interrupted
        self._progress = progress

    def read_some(self, size: int) -> bytes:
        if self._interrupted():
            raise _Interrupted
        data = self._inner.read(size)
        self._progress.bytes += len(data)
        return data
