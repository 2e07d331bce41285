"""Ingest jobs: feeds accepted now and processed by a worker, durably and exactly once.

A job's life is one state machine, and this module is its only statement
(ADR 0025). Each transition is a method of `Job` that returns the job after it,
or None when its rule refuses (wrong status, a lease not held, not due yet):

    queued --claim--> running --complete--> succeeded
      ^  ^               |  |
      |  +----release----+  +--fail (attempts left)--> queued, due after a backoff
      |                  |  +--fail (last attempt, or never processable)--> dead
      |                  +--claim again once the lease expired (attempt counted)
      +--------------revive (admin, while the body is kept)------------------ dead
    queued or running --cancel--> cancelled

Which job a claim takes is the queue's rule, `next_claim`: a partner has at
most one running job; its next job is its running one (taken again once the
lease expired), else its oldest queued one in submission order, and while that
one waits out a backoff the partner waits too; among partners whose next job
is due, the one served least recently goes first.

The in-memory store applies these methods; the SQLite and PostgreSQL stores
implement the same rules in SQL, and a stateful property test holds all three
to them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from .feed_mode import FeedMode
from .policy import ValidationPolicy
from .report import IngestReport

__all__ = [
    "Backoff",
    "BodyRetention",
    "Job",
    "JobStatus",
    "Lease",
    "PartnerQueue",
    "next_claim",
    "next_for_partner",
    "retry_delay",
]


class JobStatus(enum.StrEnum):
    """Where a job is in its life (see the module docstring for the transitions)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """No worker will take it again (only an admin's revive brings a dead job back)."""
        return self in _FINISHED


_FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED})


@attrs.frozen
class Backoff:
    """How long a failed job waits before its next attempt: base * 2**(attempt-1), capped."""

    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempt: int, jitter: float = 0.0) -> timedelta:
        """The wait after attempt number `attempt`; `jitter` in [0, 1) spreads retries."""
        return retry_delay(attempt, base=self.base, cap=self.cap, jitter=jitter)


@attrs.frozen
class BodyRetention:
    """How long a finished job's feed body is kept.

    A succeeded or cancelled job's body serves nothing once the job is done, so by
    default it goes at once; a dead job's is what an admin's revive would process,
    so it stays until `dead` has passed (revive is refused after that).
    """

    finished: timedelta = timedelta(0)
    """Succeeded and cancelled jobs; zero: deleted as soon as the job succeeds."""
    dead: timedelta = timedelta(days=7)
    """Dead jobs: the window in which an admin can still revive them."""

    def expires_at(self, job: Job) -> datetime | None:
        """When the job's body may be purged; None while it is needed or already gone."""
        if job.body_purged_at is not None or job.finished_at is None or not job.status.finished:
            return None
        return job.finished_at + (self.dead if job.status is JobStatus.DEAD else self.finished)

    def cutoffs(self, now: datetime) -> tuple[datetime, datetime]:
        """(finished_before, dead_before): bodies of jobs finished at or before these go (for SQL)."""
        return now - self.finished, now - self.dead


def _optional_feed_mode(value: FeedMode | str | None) -> FeedMode | None:
    return None if value is None else FeedMode(value)


@attrs.frozen
class Job:
    """A feed waiting for, or done with, a worker. The body is stored beside it."""

    id: str
    partner_id: str
    format: str
    version: int
    status: JobStatus
    created_at: datetime
    available_at: datetime
    """Not to be claimed before this moment (backoff between attempts)."""
    content_hash: str
    body_bytes: int
    attempts: int = 0
    max_attempts: int = 5
    policy: ValidationPolicy | None = None
    """Per-request override; None: the partner's policy at processing time."""
    idempotency_key: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    last_error: str | None = None
    report: IngestReport | None = None
    finished_at: datetime | None = None
    source: str = "push"
    """push (HTTP), pull (scheduler) or cli."""
    body_purged_at: datetime | None = None
    """When the stored feed body was deleted (see `BodyRetention`); None while it is kept."""
    items_read: int = 0
    """While running: items of the feed read so far (as the worker's heartbeat last wrote it)."""
    bytes_read: int = 0
    """While running: bytes of the stored feed body read so far."""
    feed_mode: FeedMode | None = attrs.field(default=None, converter=_optional_feed_mode)
    """upsert, snapshot or patch as the submission asked (ADR 0036); None: the partner's default
    at processing time."""

    # --- rules --------------------------------------------------------------------

    def claimable(self, now: datetime) -> bool:
        """Queued and due, or running under a lease that has expired (its worker is gone)."""
        if self.status is JobStatus.QUEUED:
            return self.available_at <= now
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at <= now
        )

    def held_by(self, token: str) -> bool:
        """Running under this lease token: only its holder may renew, finish or release it."""
        return self.status is JobStatus.RUNNING and self.lease_token == token

    def retry_at(
        self, now: datetime, *, permanent: bool, backoff: Backoff, jitter: float = 0.0
    ) -> datetime | None:
        """After a failed attempt: when to try again, or None when the job is to be dead
        (the feed can never be processed, or this was its last attempt)."""
        if permanent or self.attempts >= self.max_attempts:
            return None
        return now + backoff.delay(self.attempts, jitter)

    # --- transitions ----------------------------------------------------------------

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """Running under `token` until now + lease_for, the attempt counted."""
        if not self.claimable(now):
            return None
        return attrs.evolve(
            self,
            status=JobStatus.RUNNING,
            attempts=self.attempts + 1,
            lease_token=token,
            lease_expires_at=now + lease_for,
            items_read=0,
            bytes_read=0,
        )

    def progressed(self, token: str, items_read: int, bytes_read: int) -> Job | None:
        """How far the holder of `token` has read the feed (the worker's heartbeat writes it)."""
        if not self.held_by(token):
            return None
        return attrs.evolve(self, items_read=items_read, bytes_read=bytes_read)

    def renew(self, token: str, until: datetime) -> Job | None:
        """The lease pushed to `until` (a long feed's heartbeat)."""
        if not self.held_by(token):
            return None
        return attrs.evolve(self, lease_expires_at=until)

    def complete(self, token: str, report: IngestReport, now: datetime) -> Job | None:
        """Succeeded, with its report (a rejected feed is a processed job too)."""
        if not self.held_by(token):
            return None
        return attrs.evolve(
            self,
            status=JobStatus.SUCCEEDED,
            report=report,
            finished_at=now,
            lease_token=None,
            lease_expires_at=None,
        )

    def fail(self, token: str, error: str, now: datetime, retry_at: datetime | None) -> Job | None:
        """A failed attempt: queued again, due at `retry_at`, or dead when None (see `retry_at`)."""
        if not self.held_by(token):
            return None
        if retry_at is None:
            return attrs.evolve(
                self,
                status=JobStatus.DEAD,
                last_error=error,
                finished_at=now,
                lease_token=None,
                lease_expires_at=None,
            )
        return attrs.evolve(
            self,
            status=JobStatus.QUEUED,
            last_error=error,
            available_at=retry_at,
            lease_token=None,
            lease_expires_at=None,
        )

    def release(self, token: str, now: datetime) -> Job | None:
        """Given back untouched (shutdown): queued and due now, the attempt not counted."""
        if not self.held_by(token):
            return None
        return attrs.evolve(
            self,
            status=JobStatus.QUEUED,
            attempts=max(0, self.attempts - 1),
            available_at=now,
            lease_token=None,
            lease_expires_at=None,
        )

    def revive(self, now: datetime) -> Job | None:
        """An admin's retry of a dead job: queued and due now, attempts reset; refused once its
        body was purged (there is nothing left to process)."""
        if self.status is not JobStatus.DEAD or self.body_purged_at is not None:
            return None
        return attrs.evolve(self, status=JobStatus.QUEUED, attempts=0, available_at=now, finished_at=None)

    def cancel(self, now: datetime) -> Job | None:
        """Never to be processed: a queued job is simply not claimed; a running one loses its
        lease, so its worker stops at its next read and nothing it wrote is committed."""
        if self.status.finished:
            return None
        return attrs.evolve(
            self, status=JobStatus.CANCELLED, finished_at=now, lease_token=None, lease_expires_at=None
        )

    def purge_body(self, now: datetime, retention: BodyRetention) -> Job | None:
        """The body deleted, once `retention` says it is no longer needed."""
        expires = retention.expires_at(self)
        if expires is None or expires > now:
            return None
        return attrs.evolve(self, body_purged_at=now)


@attrs.frozen
class Lease:
    """Proof that one worker holds a job until `expires_at`; only its holder may finish it."""

    job_id: str
    token: str
    expires_at: datetime


@attrs.frozen
class PartnerQueue:
    """A partner's open jobs (queued or running) in submission order, and when it was last served."""

    partner_id: str
    jobs: Sequence[Job]
    last_claim: int | None = None
    """The store's running number of the partner's latest claim; None: never served."""


def next_for_partner(open_jobs: Iterable[Job]) -> Job | None:
    """The one job a partner's queue offers: its running job (at most one), else its oldest
    queued one. `open_jobs` come in submission order."""
    first_queued = None
    for job in open_jobs:
        if job.status is JobStatus.RUNNING:
            return job
        if job.status is JobStatus.QUEUED and first_queued is None:
            first_queued = job
    return first_queued


def next_claim(queues: Iterable[PartnerQueue], now: datetime) -> Job | None:
    """The job a claim takes now: among partners whose next job is claimable, the one
    served least recently (never served first, then by partner id); None when none is."""
    order = sorted(queues, key=lambda q: (q.last_claim is not None, q.last_claim or 0, q.partner_id))
    for queue in order:
        job = next_for_partner(queue.jobs)
        if job is not None and job.claimable(now):
            return job
    return None


def retry_delay(attempt: int, *, base: float = 2.0, cap: float = 600.0, jitter: float = 0.0) -> timedelta:
    """Exponential backoff: base * 2**(attempt-1), capped; `jitter` in [0, 1) spreads retries.

    The caller passes the random jitter in, so this stays a pure function.
    """
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=delay * (1.0 + jitter))
