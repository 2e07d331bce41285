"""`partner_ingest_jobs` and their bodies: the durable queue, claimed under leases.

A claim is one UPDATE ... WHERE id = (SELECT the oldest available job ...
FOR UPDATE SKIP LOCKED) RETURNING: workers claiming at the same moment each
lock a different row instead of queueing behind one another, and none can take
a job another holds. Only the holder of the current lease token can complete,
fail, extend or release it, exactly as with SQLite: a worker that wakes after
its lease expired changes nothing.

Bodies are stored in 1 MiB chunks (see migration 0001) and streamed both ways.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Final

from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.jobs import Job, JobStatus, Lease
from partner_ingest.domain.model.policy import ValidationPolicy
from partner_ingest.domain.model.report import IngestReport

from ._codec import dump_json, load_json, storable_text
from ._errors import conflicts
from .connection import Connection

__all__ = ["CHUNK_BYTES", "PostgresJobRepository"]

CHUNK_BYTES: Final = 1 << 20
"""Size of one stored body chunk (the last one may be shorter)."""

_COLUMNS: Final = (
    "id, partner_id, format, version, status, created_at, available_at, content_hash, body_bytes, attempts,"
    " max_attempts, policy::text, idempotency_key, lease_token, lease_expires_at, last_error, report,"
    " finished_at, source"
)
_INSERT_COLUMNS: Final = _COLUMNS.replace("policy::text", "policy")
_PLACEHOLDERS: Final = ", ".join("%s::jsonb" if c == "policy" else "%s" for c in _INSERT_COLUMNS.split(", "))

_CLAIM: Final = (
    "UPDATE partner_ingest_jobs SET status = 'running', attempts = attempts + 1, lease_token = %s,"
    " lease_expires_at = %s WHERE id = (SELECT id FROM partner_ingest_jobs"
    " WHERE (status = 'queued' AND available_at <= %s) OR (status = 'running' AND lease_expires_at <= %s)"
    f" ORDER BY available_at, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}"
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
        """Store a job and stream its body in chunks; exactly `job.body_bytes` bytes."""
        conn = self._conn
        with conflicts(conn, f"job {job.id!r}"):
            conn.execute(
                f"INSERT INTO partner_ingest_jobs ({_INSERT_COLUMNS}) VALUES ({_PLACEHOLDERS})", _values(job)
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
        """Oldest available job, marked running under `token`; jobs other workers are claiming are skipped."""
        row = self._conn.execute(_CLAIM, (token, now + lease_for, now, now)).fetchone()
        return None if row is None else _job(row)

    def _held(self, lease: Lease, sql: str, params: tuple[Any, ...]) -> bool:
        cursor = self._conn.execute(
            f"{sql} WHERE id = %s AND status = 'running' AND lease_token = %s",
            (*params, lease.job_id, lease.token),
        )
        return cursor.rowcount == 1

    def extend(self, lease: Lease, until: datetime) -> bool:
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

    def retry(self, job_id: str, now: datetime) -> bool:
        """Requeue a dead job with its attempts reset."""
        cursor = self._conn.execute(
            "UPDATE partner_ingest_jobs SET status = 'queued', attempts = 0, available_at = %s, finished_at = NULL"
            " WHERE id = %s AND status = 'dead'",
            (now, job_id),
        )
        return cursor.rowcount == 1

    def by_idempotency_key(self, partner_id: str, key: str) -> Job | None:
        """The job submitted under this key."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_ingest_jobs WHERE partner_id = %s AND idempotency_key = %s",
            (partner_id, key),
        ).fetchone()
        return None if row is None else _job(row)

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
