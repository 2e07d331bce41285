"""`partner_ingest_jobs` on PostgreSQL: bodies in chunks, claims by concurrent workers (ADR 0040).

The columns, their decoder and every transition's UPDATE are shared with SQLite
(`adapters_out/sql/jobs.py`, ADR 0025). What PostgreSQL adds is concurrent claimers. A claim is two statements in one
READ COMMITTED transaction:

1. choose a partner whose next job looked claimable and lock its queue row
   (`partner_ingest_job_queues`, FOR UPDATE SKIP LOCKED): claimers of
   different partners never wait for one another, and of one partner only one
   gets through;
2. with a snapshot taken after that lock, take the partner's next job
   (`next_for_partner`) if it is claimable now. Only a claim makes a job
   running, and every claim of the partner holds that row lock, so this
   statement sees every earlier claim of the partner: two running jobs of one
   partner cannot happen (the unique index on each partner's running job
   would refuse the second anyway). When the job is no longer claimable (the
   choice was made on an older snapshot), the next partner is tried.

Only the holder of the current lease token can complete, fail, renew or
release a job: a worker that wakes after its lease expired changes nothing.
Bodies are stored in 1 MiB chunks (see migration 0001) and streamed both ways.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import BinaryIO, Final

from partner_ingest.adapters_out.sql.jobs import JOB_SELECT, JobRow, SqlJobRepository, job
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.jobs import BodyRetention, Job

from .connection import Connection
from .dialect import POSTGRES

__all__ = ["CHUNK_BYTES", "PostgresJobRepository"]

CHUNK_BYTES: Final = 1 << 20
"""Size of one stored body chunk (the last one may be shorter)."""

# A partner's next job (`next_for_partner`): its running job, else its first queued one.
_NEXT_OF = (
    "coalesce((SELECT r.id FROM partner_ingest_jobs AS r WHERE r.partner_id = {p} AND r.status = 'running'),"
    " (SELECT f.id FROM partner_ingest_jobs AS f WHERE f.partner_id = {p} AND f.status = 'queued'"
    " ORDER BY f.seq LIMIT 1))"
)
_CLAIMABLE: Final = (
    "((j.status = 'queued' AND j.available_at <= %(now)s)"
    " OR (j.status = 'running' AND j.lease_expires_at <= %(now)s))"
)
# Step 1: the partner served least recently whose next job looks claimable, its queue row locked.
_CHOOSE: Final = (
    "SELECT q.partner_id FROM partner_ingest_job_queues AS q"
    f" JOIN partner_ingest_jobs AS j ON j.id = {_NEXT_OF.format(p='q.partner_id')}"
    f" WHERE {_CLAIMABLE} AND NOT q.partner_id = ANY(%(tried)s::text[])"
    " ORDER BY q.last_claim NULLS FIRST, q.partner_id LIMIT 1 FOR UPDATE OF q SKIP LOCKED"
)
# Step 2, on a snapshot taken after the lock: that partner's next job, if claimable now.
_CLAIM: Final = (
    "UPDATE partner_ingest_jobs AS j SET status = 'running', attempts = attempts + 1,"
    " lease_token = %(token)s, lease_expires_at = %(until)s, items_read = 0, bytes_read = 0"
    f" WHERE j.id = {_NEXT_OF.format(p='%(partner)s')} AND {_CLAIMABLE} RETURNING {JOB_SELECT}"
)
_SERVED: Final = (
    "UPDATE partner_ingest_job_queues SET last_claim ="
    " (SELECT coalesce(max(last_claim), 0) + 1 FROM partner_ingest_job_queues) WHERE partner_id = %s"
)
_MAX_TRIES: Final = 16
"""Partners one claim tries before it answers None (each found busy since it was chosen)."""
# `BodyRetention.expires_at` in SQL; rows another transaction holds are left for the next purge.
_PURGE: Final = (
    "WITH purged AS (UPDATE partner_ingest_jobs SET body_purged_at = %(now)s WHERE id IN ("
    " SELECT id FROM partner_ingest_jobs WHERE body_purged_at IS NULL AND finished_at IS NOT NULL"
    " AND ((status IN ('succeeded', 'cancelled') AND finished_at <= %(finished)s)"
    " OR (status = 'dead' AND finished_at <= %(dead)s))"
    " ORDER BY finished_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING id),"
    " gone AS (DELETE FROM partner_ingest_job_bodies AS b USING purged WHERE b.job_id = purged.id)"
    " SELECT count(*) FROM purged"
)
_CHUNK: Final = "SELECT chunk FROM partner_ingest_job_bodies WHERE job_id = %s AND seq = %s"
_FIRST_CHUNK: Final = (
    "SELECT j.body_bytes, b.chunk FROM partner_ingest_jobs AS j"
    " JOIN partner_ingest_job_bodies AS b ON b.job_id = j.id AND b.seq = 0 WHERE j.id = %s"
)


class _ChunkReader(io.RawIOBase):
    """A stored body read back chunk by chunk, each one fetched when the previous is used up.

    It stops after the job's `body_bytes`, so it does not depend on the size chunks were cut to.
    """

    def __init__(self, conn: Connection, job_id: str, first: bytes, total: int) -> None:
        self._conn = conn
        self._job_id = job_id
        self._chunk = memoryview(first)
        self._next = 1
        self._left = total - len(first)  # bytes in chunks not fetched yet

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._chunk and self._left > 0:
            self._chunk = memoryview(self._fetch(self._next))
            self._next += 1
            self._left -= len(self._chunk)
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size

    def _fetch(self, seq: int) -> bytes:
        # A binary cursor: bytea comes back as raw bytes, not hex text to decode.
        with self._conn.cursor(binary=True) as cur:
            row = cur.execute(_CHUNK, (self._job_id, seq)).fetchone()
        if row is None:
            raise NotFoundError("job body chunk", f"{self._job_id}/{seq}")
        return bytes(row[0])


class PostgresJobRepository(SqlJobRepository):
    """The shared jobs, with PostgreSQL's chunked bodies, SKIP LOCKED claim and purge."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, POSTGRES)
        self._db = conn

    def _store_body(self, job: Job, body: BinaryIO) -> None:
        """Stream the body in chunks; exactly `job.body_bytes` bytes."""
        written, seq = 0, 0
        while True:
            chunk = _read_full(body, CHUNK_BYTES)
            if written + len(chunk) > job.body_bytes:
                raise ValueError(f"job {job.id}: body is longer than the declared {job.body_bytes} bytes")
            if chunk or seq == 0:  # an empty body is one empty chunk, so that it exists
                self._db.execute(
                    "INSERT INTO partner_ingest_job_bodies (job_id, seq, chunk) VALUES (%s, %s, %s)",
                    (job.id, seq, chunk),
                )
            written += len(chunk)
            seq += 1
            if len(chunk) < CHUNK_BYTES:
                break
        if written != job.body_bytes:
            raise ValueError(f"job {job.id}: body has {written} bytes, {job.body_bytes} declared")

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body as a buffered stream (valid within this unit of work)."""
        with self._db.cursor(binary=True) as cur:
            row = cur.execute(_FIRST_CHUNK, (job_id,)).fetchone()
        if row is None:
            raise NotFoundError("job body", job_id)
        reader = _ChunkReader(self._db, job_id, bytes(row[1]), int(row[0]))
        return io.BufferedReader(reader, buffer_size=CHUNK_BYTES)

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks, recorded as its partner's latest claim
        (see the module docstring for why two claims never give one partner two running jobs)."""
        tried: list[str] = []
        for _ in range(_MAX_TRIES):
            chosen = self._db.execute(_CHOOSE, {"now": now, "tried": tried}).fetchone()
            if chosen is None:
                return None
            partner = chosen[0]
            values = {"partner": partner, "now": now, "token": token, "until": now + lease_for}
            row = self._db.execute(_CLAIM, values).fetchone()
            if row is not None:
                self._db.execute(_SERVED, (partner,))
                return job(JobRow._make(row), POSTGRES)
            tried.append(partner)
        return None

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""
        finished_before, dead_before = retention.cutoffs(now)
        values = {"now": now, "finished": finished_before, "dead": dead_before, "limit": limit}
        row = self._db.execute(_PURGE, values).fetchone()
        return 0 if row is None else int(row[0])


def _read_full(body: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, short only at the end of the stream (a raw stream may return less)."""
    parts: list[bytes] = []
    wanted = size
    while wanted:
        part = body.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)
