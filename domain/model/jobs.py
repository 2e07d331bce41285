"""Ingest jobs: feeds accepted now and processed by a worker, durably and exactly once."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from .policy import ValidationPolicy
from .report import IngestReport

__all__ = ["Job", "JobStatus", "Lease", "retry_delay"]


class JobStatus(enum.StrEnum):
    """Life of a job: queued -> running -> succeeded, or back to queued to retry, or dead."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


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


@attrs.frozen
class Lease:
    """Proof that one worker holds a job until `expires_at`; only its holder may finish it."""

    job_id: str
    token: str
    expires_at: datetime


def retry_delay(attempt: int, *, base: float = 2.0, cap: float = 600.0, jitter: float = 0.0) -> timedelta:
    """Exponential backoff: base * 2**(attempt-1), capped; `jitter` in [0, 1) spreads retries.

    The caller passes the random jitter in, so this stays a pure function.
    """
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=delay * (1.0 + jitter))
