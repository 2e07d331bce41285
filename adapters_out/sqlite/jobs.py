"""`partner_ingest_jobs` and their bodies: the durable queue, claimed under leases.

Every change is a transition of the domain `Job` written as one UPDATE whose
WHERE clause is the transition's rule (ADR 0025). A claim takes the job the
queue's rule picks (`next_claim`: one running job per partner, a partner's
jobs in submission order, the partner served least recently first) in one
UPDATE ... WHERE id = (SELECT ...) RETURNING inside the writer's transaction,
so two workers can never take the same job, nor two jobs of one partner (a
unique index on the running job of each partner says so too). Only the
holder of the current lease token can complete, fail, renew or release a job:
a worker that wakes after its lease expired changes nothing.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Final

from partner_ingest.adapters_out.store_errors import stored_conflict
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.jobs import BodyRetention, Job, JobStatus, Lease
from partner_ingest.domain.model.policy import ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import StoredBodies

from ._codec import dump_json, load_json, opt_dt, opt_ts
from ._errors import refusal
from .connection import from_timestamp, timestamp

__all__ = ["SqliteJobRepository"]

_COLUMNS: Final = (
    "id, partner_id, format, version, status, created_at, available_at, content_hash, body_bytes, attempts,"
    " max_attempts, policy, idempotency_key, lease_token, lease_expires_at, last_error, report, finished_at,"
    " source, body_purged_at, items_read, bytes_read, feed_mode"
)
_CHUNK: Final = 1 << 20

# The job `next_claim` picks: for each partner in the order it was served (never served
# first), its running job, else its first queued one; the first of those that is claimable.
_NEXT: Final = (
    "SELECT j.id FROM partner_ingest_job_queues AS q JOIN partner_ingest_jobs AS j ON j.id = coalesce("
    " (SELECT r.id FROM partner_ingest_jobs AS r WHERE r.partner_id = q.partner_id AND r.status = 'running'),"
    " (SELECT f.id FROM partner_ingest_jobs AS f WHERE f.partner_id = q.partner_id AND f.status = 'queued'"
    "  ORDER BY f.seq LIMIT 1))"
    " WHERE (j.status = 'queued' AND j.available_at <= ?3) OR (j.status = 'running' AND j.lease_expires_at <= ?4)"
    " ORDER BY q.last_claim, q.partner_id LIMIT 1"
)
_CLAIM: Final = (
    "UPDATE partner_ingest_jobs SET status = 'running', attempts = attempts + 1, lease_token = ?1,"
    f" lease_expires_at = ?2, items_read = 0, bytes_read = 0 WHERE id = ({_NEXT}) RETURNING {_COLUMNS}"
)
_SERVED: Final = (
    "UPDATE partner_ingest_job_queues SET last_claim ="
    " (SELECT coalesce(max(last_claim), 0) + 1 FROM partner_ingest_job_queues) WHERE partner_id = ?"
)
# `BodyRetention.expires_at` in SQL: bodies of finished jobs, kept, finished long enough ago.
_PURGE: Final = (
    "UPDATE partner_ingest_jobs SET body_purged_at = ?1 WHERE id IN (SELECT id FROM partner_ingest_jobs"
    " WHERE body_purged_at IS NULL AND finished_at IS NOT NULL"
    " AND ((status IN ('succeeded', 'cancelled') AND finished_at <= ?2) OR (status = 'dead' AND finished_at <= ?3))"
    " ORDER BY finished_at, seq LIMIT ?4) RETURNING id"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        partner_id=row[1],
        format=row[2],
        version=row[3],
        status=JobStatus(row[4]),
        created_at=from_timestamp(row[5]),
        available_at=from_timestamp(row[6]),
        content_hash=row[7],
        body_bytes=row[8],
        attempts=row[9],
        max_attempts=row[10],
        policy=None if row[11] is None else ValidationPolicy.from_json(load_json(row[11])),
        idempotency_key=row[12],
        lease_token=row[13],
        lease_expires_at=opt_dt(row[14]),
        last_error=row[15],
        report=None if row[16] is None else IngestReport.from_json(load_json(row[16])),
        finished_at=opt_dt(row[17]),
        source=row[18],
        body_purged_at=opt_dt(row[19]),
        items_read=row[20],
        bytes_read=row[21],
        feed_mode=row[22],
    )


class _BlobReader(io.RawIOBase):
    """A stored body read in place, chunk by chunk (sqlite3 incremental blob I/O)."""

    def __init__(self, blob: sqlite3.Blob) -> None:
        self._blob = blob

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._blob.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._blob.close()
        super().close()


class SqliteJobRepository:
    """Jobs of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, job: Job, body: BinaryIO) -> None:
        """Store a job, last in the submission order, and stream its body into a blob of `job.body_bytes` bytes."""
        conn = self._conn
        try:
            conn.execute(
                f"INSERT INTO partner_ingest_jobs ({_COLUMNS}, seq) VALUES ({', '.join('?' * 23)},"
                " (SELECT coalesce(max(seq), 0) + 1 FROM partner_ingest_jobs))",
                (
                    job.id,
                    job.partner_id,
                    job.format,
                    job.version,
                    str(job.status),
                    timestamp(job.created_at),
                    timestamp(job.available_at),
                    job.content_hash,
                    job.body_bytes,
                    job.attempts,
                    job.max_attempts,
                    None if job.policy is None else dump_json(job.policy.to_json()),
                    job.idempotency_key,
                    job.lease_token,
                    opt_ts(job.lease_expires_at),
                    job.last_error,
                    None if job.report is None else dump_json(job.report.to_json()),
                    opt_ts(job.finished_at),
                    job.source,
                    opt_ts(job.body_purged_at),
                    job.items_read,
                    job.bytes_read,
                    None if job.feed_mode is None else str(job.feed_mode),
                ),
            )
        except sqlite3.IntegrityError as error:
            raise stored_conflict(f"job {job.id!r}", refusal(error), str(error)) from None
        conn.execute(
            "INSERT OR IGNORE INTO partner_ingest_job_queues (partner_id) VALUES (?)", (job.partner_id,)
        )
        rowid = conn.execute(
            "INSERT INTO partner_ingest_job_bodies (job_id, body) VALUES (?, zeroblob(?))",
            (job.id, job.body_bytes),
        ).lastrowid
        written = 0
        with conn.blobopen("partner_ingest_job_bodies", "body", rowid) as blob:  # type: ignore[arg-type]
            while chunk := body.read(_CHUNK):
                if written + len(chunk) > job.body_bytes:
                    raise ValueError(f"job {job.id}: body is longer than the declared {job.body_bytes} bytes")
                blob.write(chunk)
                written += len(chunk)
        if written != job.body_bytes:
            raise ValueError(f"job {job.id}: body has {written} bytes, {job.body_bytes} declared")

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_ingest_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return None if row is None else _job(row)

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body as a buffered stream (valid within this unit of work)."""
        row = self._conn.execute(
            "SELECT rowid FROM partner_ingest_job_bodies WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("job body", job_id)
        blob = self._conn.blobopen("partner_ingest_job_bodies", "body", row[0], readonly=True)
        return io.BufferedReader(_BlobReader(blob), buffer_size=_CHUNK)

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks, recorded as its partner's latest claim.

        Inside the one writer's transaction, so nothing changes between the choice and the claim.
        """
        at = timestamp(now)
        row = self._conn.execute(_CLAIM, (token, timestamp(now + lease_for), at, at)).fetchone()
        if row is None:
            return None
        job = _job(row)
        self._conn.execute(_SERVED, (job.partner_id,))
        return job

    def _held(self, lease: Lease, sql: str, params: tuple[Any, ...]) -> bool:
        cursor = self._conn.execute(
            f"{sql} WHERE id = ? AND status = 'running' AND lease_token = ?",
            (*params, lease.job_id, lease.token),
        )
        return cursor.rowcount == 1

    def renew(self, lease: Lease, until: datetime) -> bool:
        """Push the lease further while held."""
        return self._held(lease, "UPDATE partner_ingest_jobs SET lease_expires_at = ?", (timestamp(until),))

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
            (dump_json(report.to_json()), timestamp(now)),
        )

    def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> bool:
        """Queue again at retry_at, or dead."""
        if retry_at is None:
            return self._held(
                lease,
                "UPDATE partner_ingest_jobs SET status = 'dead', last_error = ?, finished_at = ?,"
                " lease_token = NULL, lease_expires_at = NULL",
                (error, timestamp(now)),
            )
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued', last_error = ?, available_at = ?,"
            " lease_token = NULL, lease_expires_at = NULL",
            (error, timestamp(retry_at)),
        )

    def release(self, lease: Lease, now: datetime) -> bool:
        """Back to the queue, the attempt not counted."""
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = max(attempts - 1, 0), available_at = ?,"
            " lease_token = NULL, lease_expires_at = NULL",
            (timestamp(now),),
        )

    def revive(self, job_id: str, now: datetime) -> bool:
        """Requeue a dead job whose body is kept, its attempts reset."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = 0, available_at = ?, finished_at = NULL"
            " WHERE id = ? AND status = 'dead' AND body_purged_at IS NULL",
            (timestamp(now), job_id),
        )
        return cursor.rowcount == 1

    def cancel(self, job_id: str, now: datetime) -> bool:
        """Cancel a queued or running job (a running one loses its lease)."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_jobs SET status = 'cancelled', finished_at = ?, lease_token = NULL,"
            " lease_expires_at = NULL WHERE id = ? AND status IN ('queued', 'running')",
            (timestamp(now), job_id),
        )
        return cursor.rowcount == 1

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""
        finished_before, dead_before = retention.cutoffs(now)
        purged = self._conn.execute(
            _PURGE, (timestamp(now), timestamp(finished_before), timestamp(dead_before), limit)
        ).fetchall()
        self._conn.executemany("DELETE FROM partner_ingest_job_bodies WHERE job_id = ?", purged)
        return len(purged)

    def stored_bodies(self) -> StoredBodies:
        """How many bodies are kept, and their bytes."""
        count, size = self._conn.execute(
            "SELECT count(*), coalesce(sum(body_bytes), 0) FROM partner_ingest_jobs WHERE body_purged_at IS NULL"
        ).fetchone()
        return StoredBodies(int(count), int(size))

    def recent(
        self, *, partner_id: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[Job]:
        """Most recent first."""
        where, params = [], []
        if partner_id is not None:
            where.append("partner_id = ?")
            params.append(partner_id)
        if status is not None:
            where.append("status = ?")
            params.append(str(status))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_ingest_jobs{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_job(row) for row in rows]

    def status_counts(self) -> Mapping[JobStatus, int]:
        """Jobs per status."""
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in self._conn.execute(
            "SELECT status, count(*) FROM partner_ingest_jobs GROUP BY status"
        ):
            counts[JobStatus(status)] = count
        return counts
