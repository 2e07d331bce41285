"""`partner_ingest_jobs` on SQLite: bodies as blobs, claims under the one writer's lock (ADR 0040).

The columns, their decoder and every transition's UPDATE are shared
(`adapters_out/sql/jobs.py`, ADR 0025); this module holds what SQLite does its own way. A claim takes the job the
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
from datetime import datetime, timedelta
from typing import BinaryIO, Final

from partner_ingest.adapters_out.sql.jobs import JOB_COLUMNS, JOB_SELECT, JobRow, SqlJobRepository, job
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.jobs import BodyRetention, Job

from .connection import timestamp
from .dialect import SQLITE

__all__ = ["SqliteJobRepository"]

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
    f" lease_expires_at = ?2, items_read = 0, bytes_read = 0 WHERE id = ({_NEXT}) RETURNING {JOB_SELECT}"
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


class SqliteJobRepository(SqlJobRepository):
    """The shared jobs, with SQLite's bodies, claim and purge."""

    # seq is the submission order; SQLite's writer numbers it inside its transaction.
    _INSERT = (
        f"INSERT INTO partner_ingest_jobs ({JOB_COLUMNS}, seq) VALUES ({', '.join('?' * len(JobRow._fields))},"
        " (SELECT coalesce(max(seq), 0) + 1 FROM partner_ingest_jobs))"
    )

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, SQLITE)
        self._db = conn

    def _store_body(self, job: Job, body: BinaryIO) -> None:
        """Stream the body into a blob of `job.body_bytes` bytes, written in place."""
        conn = self._db
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

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body as a buffered stream (valid within this unit of work)."""
        row = self._db.execute(
            "SELECT rowid FROM partner_ingest_job_bodies WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("job body", job_id)
        blob = self._db.blobopen("partner_ingest_job_bodies", "body", row[0], readonly=True)
        return io.BufferedReader(_BlobReader(blob), buffer_size=_CHUNK)

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks, recorded as its partner's latest claim.

        Inside the one writer's transaction, so nothing changes between the choice and the claim.
        """
        at = timestamp(now)
        row = self._db.execute(_CLAIM, (token, timestamp(now + lease_for), at, at)).fetchone()
        if row is None:
            return None
        claimed = job(JobRow._make(row), SQLITE)
        self._db.execute(_SERVED, (claimed.partner_id,))
        return claimed

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""
        finished_before, dead_before = retention.cutoffs(now)
        purged = self._db.execute(
            _PURGE, (timestamp(now), timestamp(finished_before), timestamp(dead_before), limit)
        ).fetchall()
        self._db.executemany("DELETE FROM partner_ingest_job_bodies WHERE job_id = ?", purged)
        return len(purged)
