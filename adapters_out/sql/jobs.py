"""`partner_ingest_jobs`: the durable queue's rows and the transitions both engines write alike (ADR 0040).

Every change is a transition of the domain `Job` written as one UPDATE whose WHERE
clause is the transition's rule (ADR 0025); those UPDATEs, the job's columns and its
decoder are here. How a body is stored (SQLite's blob, PostgreSQL's chunks), how a
claim is made safe (SQLite's single writer, PostgreSQL's SKIP LOCKED) and how bodies
are purged are each engine's: the abstract methods below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Final, NamedTuple

from partner_ingest.domain.model.jobs import BodyRetention, Job, JobStatus, Lease
from partner_ingest.domain.model.policy import ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import StoredBodies

from ._json import dump_json, load_json
from .dialect import Dialect
from .repository import SqlRepository, select_list

__all__ = ["JOB_COLUMNS", "JOB_SELECT", "JobRow", "SqlJobRepository", "job", "job_row"]


class JobRow(NamedTuple):
    """The columns a job is read from and written to, in order."""

    id: str
    partner_id: str
    format: str
    version: int
    status: str
    created_at: Any
    available_at: Any
    content_hash: str
    body_bytes: int
    attempts: int
    max_attempts: int
    policy: str | None
    idempotency_key: str | None
    lease_token: str | None
    lease_expires_at: Any
    last_error: str | None
    report: str | None
    finished_at: Any
    source: str
    body_purged_at: Any
    items_read: int
    bytes_read: int
    feed_mode: str | None


JOB_COLUMNS: Final = ", ".join(JobRow._fields)
# policy is jsonb on PostgreSQL: read back as the text that was written.
JOB_SELECT: Final = select_list(JobRow._fields, json=("policy",))
_PLACEHOLDERS: Final = ", ".join("?" * len(JobRow._fields))


def job(row: JobRow, d: Dialect) -> Job:
    """The job a row holds."""
    return Job(
        id=row.id,
        partner_id=row.partner_id,
        format=row.format,
        version=row.version,
        status=JobStatus(row.status),
        created_at=d.from_time(row.created_at),
        available_at=d.from_time(row.available_at),
        content_hash=row.content_hash,
        body_bytes=row.body_bytes,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        policy=None if row.policy is None else ValidationPolicy.from_json(load_json(row.policy)),
        idempotency_key=row.idempotency_key,
        lease_token=row.lease_token,
        lease_expires_at=d.opt_from_time(row.lease_expires_at),
        last_error=row.last_error,
        report=None if row.report is None else IngestReport.from_json(load_json(row.report)),
        finished_at=d.opt_from_time(row.finished_at),
        source=row.source,
        body_purged_at=d.opt_from_time(row.body_purged_at),
        items_read=row.items_read,
        bytes_read=row.bytes_read,
        feed_mode=row.feed_mode,
    )


def job_row(j: Job, d: Dialect) -> JobRow:
    """The row that stores a job."""
    return JobRow(
        id=j.id,
        partner_id=j.partner_id,
        format=j.format,
        version=j.version,
        status=str(j.status),
        created_at=d.time(j.created_at),
        available_at=d.time(j.available_at),
        content_hash=j.content_hash,
        body_bytes=j.body_bytes,
        attempts=j.attempts,
        max_attempts=j.max_attempts,
        policy=None if j.policy is None else dump_json(j.policy.to_json()),
        idempotency_key=j.idempotency_key,
        lease_token=j.lease_token,
        lease_expires_at=d.opt_time(j.lease_expires_at),
        last_error=None if j.last_error is None else d.text(j.last_error),
        report=None if j.report is None else dump_json(j.report.to_json()),
        finished_at=d.opt_time(j.finished_at),
        source=j.source,
        body_purged_at=d.opt_time(j.body_purged_at),
        items_read=j.items_read,
        bytes_read=j.bytes_read,
        feed_mode=None if j.feed_mode is None else str(j.feed_mode),
    )


class SqlJobRepository(SqlRepository, ABC):
    """Jobs of one connection's current transaction; bodies, claims and purges are the engine's."""

    __slots__ = ()

    # The INSERT of a job row; an engine whose table numbers rows itself adds nothing.
    _INSERT: str = f"INSERT INTO partner_ingest_jobs ({JOB_COLUMNS}) VALUES ({_PLACEHOLDERS})"

    def add(self, job: Job, body: BinaryIO) -> None:
        """Store a job, last in the submission order, and its body of exactly `job.body_bytes` bytes."""
        with self._d.conflicts(self._conn, f"job {job.id!r}"):
            self._run(self._INSERT, job_row(job, self._d))
        self._run(
            "INSERT INTO partner_ingest_job_queues (partner_id) VALUES (?) ON CONFLICT DO NOTHING",
            (job.partner_id,),
        )
        self._store_body(job, body)

    @abstractmethod
    def _store_body(self, job: Job, body: BinaryIO) -> None:
        """Stream `body` in; ValueError when it is not exactly `job.body_bytes` bytes."""

    @abstractmethod
    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body as a buffered stream (valid within this unit of work)."""

    @abstractmethod
    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks, recorded as its partner's latest claim."""

    @abstractmethod
    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        row = self._run(f"SELECT {JOB_SELECT} FROM partner_ingest_jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else job(JobRow._make(row), self._d)

    def _held(self, lease: Lease, sql: str, params: tuple[Any, ...]) -> bool:
        cursor = self._run(
            f"{sql} WHERE id = ? AND status = 'running' AND lease_token = ?",
            (*params, lease.job_id, lease.token),
        )
        return cursor.rowcount == 1

    def renew(self, lease: Lease, until: datetime) -> bool:
        """Push the lease further while held."""
        return self._held(
            lease, "UPDATE partner_ingest_jobs SET lease_expires_at = ?", (self._d.time(until),)
        )

    def record_progress(self, lease: Lease, items_read: int, bytes_read: int) -> bool:
        """How far the feed has been read, while held."""
        return self._held(
            lease, "UPDATE partner_ingest_jobs SET items_read = ?, bytes_read = ?", (items_read, bytes_read)
        )

    def complete(self, lease: Lease, report: IngestReport, now: datetime) -> bool:
        """Succeeded, with its report."""
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'succeeded', report = ?, finished_at = ?,"
            " lease_token = NULL, lease_expires_at = NULL",
            (dump_json(report.to_json()), self._d.time(now)),
        )

    def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> bool:
        """Queue again at retry_at, or dead."""
        error = self._d.text(error)
        if retry_at is None:
            return self._held(
                lease,
                "UPDATE partner_ingest_jobs SET status = 'dead', last_error = ?, finished_at = ?,"
                " lease_token = NULL, lease_expires_at = NULL",
                (error, self._d.time(now)),
            )
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued', last_error = ?, available_at = ?,"
            " lease_token = NULL, lease_expires_at = NULL",
            (error, self._d.time(retry_at)),
        )

    def release(self, lease: Lease, now: datetime) -> bool:
        """Back to the queue, the attempt not counted."""
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued',"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
            " available_at = ?, lease_token = NULL, lease_expires_at = NULL",
            (self._d.time(now),),
        )

    def revive(self, job_id: str, now: datetime) -> bool:
        """Requeue a dead job whose body is kept, its attempts reset."""
        cursor = self._run(
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = 0, available_at = ?, finished_at = NULL"
            " WHERE id = ? AND status = 'dead' AND body_purged_at IS NULL",
            (self._d.time(now), job_id),
        )
        return cursor.rowcount == 1

    def cancel(self, job_id: str, now: datetime) -> bool:
        """Cancel a queued or running job (a running one loses its lease)."""
        cursor = self._run(
            "UPDATE partner_ingest_jobs SET status = 'cancelled', finished_at = ?, lease_token = NULL,"
            " lease_expires_at = NULL WHERE id = ? AND status IN ('queued', 'running')",
            (self._d.time(now), job_id),
        )
        return cursor.rowcount == 1

    def stored_bodies(self) -> StoredBodies:
        """How many bodies are kept, and their bytes."""
        row = self._run(
            "SELECT count(*), coalesce(sum(body_bytes), 0) FROM partner_ingest_jobs WHERE body_purged_at IS NULL"
        ).fetchone()
        return StoredBodies(0, 0) if row is None else StoredBodies(int(row[0]), int(row[1]))

    def recent(
        self, *, partner_id: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[Job]:
        """Most recent first."""
        where: list[str] = []
        params: list[Any] = []
        if partner_id is not None:
            where.append("partner_id = ?")
            params.append(partner_id)
        if status is not None:
            where.append("status = ?")
            params.append(str(status))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._run(
            f"SELECT {JOB_SELECT} FROM partner_ingest_jobs{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [job(JobRow._make(row), self._d) for row in rows]

    def status_counts(self) -> Mapping[JobStatus, int]:
        """Jobs per status."""
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in self._run("SELECT status, count(*) FROM partner_ingest_jobs GROUP BY status"):
            counts[JobStatus(status)] = int(count)
        return counts
