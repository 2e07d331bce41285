"""`partner_ingest_jobs` and their bodies: the durable queue, claimed under leases.

Every change is a transition of the domain `Job` written as one UPDATE whose
WHERE clause is the transition's rule (ADR 0025), exactly as with SQLite. What
PostgreSQL adds is concurrent claimers. A claim is two statements in one
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
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Final

from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.jobs import BodyRetention, Job, JobStatus, Lease
from partner_ingest.domain.model.policy import ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.repositories import StoredBodies

from ._codec import dump_json, load_json, storable_text
from ._errors import conflicts
from .connection import Connection

__all__ = ["CHUNK_BYTES", "PostgresJobRepository"]

CHUNK_BYTES: Final = 1 << 20
"""Size of one stored body chunk (the last one may be shorter)."""

_COLUMNS: Final = (
    "id, partner_id, format, version, status, created_at, available_at, content_hash, body_bytes, attempts,"
    " max_attempts, policy::text, idempotency_key, lease_token, lease_expires_at, last_error, report,"
    " finished_at, source, body_purged_at, items_read, bytes_read, feed_mode"
)
_INSERT_COLUMNS: Final = _COLUMNS.replace("policy::text", "policy")
_PLACEHOLDERS: Final = ", ".join("%s::jsonb" if c == "policy" else "%s" for c in _INSERT_COLUMNS.split(", "))

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
    f" WHERE j.id = {_NEXT_OF.format(p='%(partner)s')} AND {_CLAIMABLE} RETURNING {_COLUMNS}"
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


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        partner_id=row[1],
        format=row[2],
        version=row[3],
        status=JobStatus(row[4]),
        created_at=row[5],
        available_at=row[6],
        content_hash=row[7],
        body_bytes=row[8],
        attempts=row[9],
        max_attempts=row[10],
        policy=None if row[11] is None else ValidationPolicy.from_json(load_json(row[11])),
        idempotency_key=row[12],
        lease_token=row[13],
        lease_expires_at=row[14],
        last_error=row[15],
        report=None if row[16] is None else IngestReport.from_json(load_json(row[16])),
        finished_at=row[17],
        source=row[18],
        body_purged_at=row[19],
        items_read=row[20],
        bytes_read=row[21],
        feed_mode=row[22],
    )


def _values(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.partner_id,
        job.format,
        job.version,
        str(job.status),
        job.created_at,
        job.available_at,
        job.content_hash,
        job.body_bytes,
        job.attempts,
        job.max_attempts,
        None if job.policy is None else dump_json(job.policy.to_json()),
        job.idempotency_key,
        job.lease_token,
        job.lease_expires_at,
        None if job.last_error is None else storable_text(job.last_error),
        None if job.report is None else dump_json(job.report.to_json()),
        job.finished_at,
        job.source,
        job.body_purged_at,
        job.items_read,
        job.bytes_read,
        None if job.feed_mode is None else str(job.feed_mode),
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


class PostgresJobRepository:
    """Jobs of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, job: Job, body: BinaryIO) -> None:
        """Store a job, last in the submission order, and stream its body in chunks; exactly `job.body_bytes` bytes."""
        conn = self._conn
        with conflicts(conn, f"job {job.id!r}"):
            conn.execute(
                f"INSERT INTO partner_ingest_jobs ({_INSERT_COLUMNS}) VALUES ({_PLACEHOLDERS})", _values(job)
            )
        conn.execute(
            "INSERT INTO partner_ingest_job_queues (partner_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (job.partner_id,),
        )
        written, seq = 0, 0
        while True:
            chunk = _read_full(body, CHUNK_BYTES)
            if written + len(chunk) > job.body_bytes:
                raise ValueError(f"job {job.id}: body is longer than the declared {job.body_bytes} bytes")
            if chunk or seq == 0:  # an empty body is one empty chunk, so that it exists
                conn.execute(
                    "INSERT INTO partner_ingest_job_bodies (job_id, seq, chunk) VALUES (%s, %s, %s)",
                    (job.id, seq, chunk),
                )
            written += len(chunk)
            seq += 1
            if len(chunk) < CHUNK_BYTES:
                break
        if written != job.body_bytes:
            raise ValueError(f"job {job.id}: body has {written} bytes, {job.body_bytes} declared")

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_ingest_jobs WHERE id = %s", (job_id,)
        ).fetchone()
        return None if row is None else _job(row)

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored body as a buffered stream (valid within this unit of work)."""
        with self._conn.cursor(binary=True) as cur:
            row = cur.execute(_FIRST_CHUNK, (job_id,)).fetchone()
        if row is None:
            raise NotFoundError("job body", job_id)
        reader = _ChunkReader(self._conn, job_id, bytes(row[1]), int(row[0]))
        return io.BufferedReader(reader, buffer_size=CHUNK_BYTES)

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks, recorded as its partner's latest claim
        (see the module docstring for why two claims never give one partner two running jobs)."""
        tried: list[str] = []
        for _ in range(_MAX_TRIES):
            chosen = self._conn.execute(_CHOOSE, {"now": now, "tried": tried}).fetchone()
            if chosen is None:
                return None
            partner = chosen[0]
            values = {"partner": partner, "now": now, "token": token, "until": now + lease_for}
            row = self._conn.execute(_CLAIM, values).fetchone()
            if row is not None:
                self._conn.execute(_SERVED, (partner,))
                return _job(row)
            tried.append(partner)
        return None

    def _held(self, lease: Lease, sql: str, params: tuple[Any, ...]) -> bool:
        cursor = self._conn.execute(
            f"{sql} WHERE id = %s AND status = 'running' AND lease_token = %s",
            (*params, lease.job_id, lease.token),
        )
        return cursor.rowcount == 1

    def record_progress(self, lease: Lease, items_read: int, bytes_read: int) -> bool:
        """How far the feed has been read, while held."""
        return self._held(
            lease, "UPDATE partner_ingest_jobs SET items_read = %s, bytes_read = %s", (items_read, bytes_read)
        )

    def renew(self, lease: Lease, until: datetime) -> bool:
        """Push the lease further while held."""
        return self._held(lease, "UPDATE partner_ingest_jobs SET lease_expires_at = %s", (until,))

    def complete(self, lease: Lease, report: IngestReport, now: datetime) -> bool:
        """Succeeded, with its report."""
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'succeeded', report = %s, finished_at = %s,"
            " lease_token = NULL, lease_expires_at = NULL",
            (dump_json(report.to_json()), now),
        )

    def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> bool:
        """Queue again at retry_at, or dead."""
        error = storable_text(error)
        if retry_at is None:
            return self._held(
                lease,
                "UPDATE partner_ingest_jobs SET status = 'dead', last_error = %s, finished_at = %s,"
                " lease_token = NULL, lease_expires_at = NULL",
                (error, now),
            )
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued', last_error = %s, available_at = %s,"
            " lease_token = NULL, lease_expires_at = NULL",
            (error, retry_at),
        )

    def release(self, lease: Lease, now: datetime) -> bool:
        """Back to the queue, the attempt not counted."""
        return self._held(
            lease,
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = greatest(attempts - 1, 0),"
            " available_at = %s, lease_token = NULL, lease_expires_at = NULL",
            (now,),
        )

    def revive(self, job_id: str, now: datetime) -> bool:
        """Requeue a dead job whose body is kept, its attempts reset."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = 0, available_at = %s, finished_at = NULL"
            " WHERE id = %s AND status = 'dead' AND body_purged_at IS NULL",
            (now, job_id),
        )
        return cursor.rowcount == 1

    def cancel(self, job_id: str, now: datetime) -> bool:
        """Cancel a queued or running job (a running one loses its lease)."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_jobs SET status = 'cancelled', finished_at = %s, lease_token = NULL,"
            " lease_expires_at = NULL WHERE id = %s AND status IN ('queued', 'running')",
            (now, job_id),
        )
        return cursor.rowcount == 1

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """Delete the bodies `retention` lets go, oldest finished first."""
        finished_before, dead_before = retention.cutoffs(now)
        values = {"now": now, "finished": finished_before, "dead": dead_before, "limit": limit}
        row = self._conn.execute(_PURGE, values).fetchone()
        return 0 if row is None else int(row[0])

    def stored_bodies(self) -> StoredBodies:
        """How many bodies are kept, and their bytes."""
        row = self._conn.execute(
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
            where.append("partner_id = %s")
            params.append(partner_id)
        if status is not None:
            where.append("status = %s")
            params.append(str(status))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_ingest_jobs{clause} ORDER BY created_at DESC, id DESC LIMIT %s",
            (*params, limit),
        )
        return [_job(row) for row in rows]

    def status_counts(self) -> Mapping[JobStatus, int]:
        """Jobs per status."""
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in self._conn.execute(
            "SELECT status, count(*) FROM partner_ingest_jobs GROUP BY status"
        ):
            counts[JobStatus(status)] = int(count)
        return counts


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
