"""JSON forms of jobs, schedules and partner feed circuits (see views.py for the conventions).

Nothing here carries a secret: a job's lease token (only its holder may finish
the job) stays in the database, a schedule holds no credential (the partner's
are answered masked by `views.partner_json`), and a circuit names its endpoint
as `scheme://host:port`, never a path or query that could carry a token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from partner_ingest.domain.model.jobs import Job, JobStatus
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.domain.use_cases.fetch_health import FeedCircuit
from partner_ingest.domain.use_cases.jobs import JobPage

__all__ = ["circuit_json", "job_json", "job_outcome", "job_page_json", "schedule_json"]


def job_page_json(request: Request, page: JobPage, location: Callable[[str], str]) -> dict[str, Any]:
    """A page of jobs, each with its URL (`location(job_id)`), and the URL of the next page."""
    following = None
    if page.next_offset is not None:
        following = str(request.url.include_query_params(offset=page.next_offset))
    return {
        "jobs": [job_json(job, location=location(job.id)) for job in page.jobs],
        "next_offset": page.next_offset,
        "next": following,
    }


def job_outcome(job: Job) -> str | None:
    """How a finished job's feed ended: its report's status (a rejected feed is a job that
    succeeded in processing it), or the job's own end when it was never processed."""
    if job.report is not None:
        return str(job.report.status)
    if job.status in (JobStatus.DEAD, JobStatus.CANCELLED):
        return str(job.status)
    return None


def job_json(job: Job, *, location: str) -> dict[str, Any]:
    """A job as its partner and admins see it; `report` once it is done."""
    waiting = job.status is JobStatus.QUEUED
    return {
        "id": job.id,
        "partner_id": job.partner_id,
        "status": job.status,
        "format": job.format,
        "version": job.version,
        "source": job.source,
        "bytes": job.body_bytes,
        "content_hash": job.content_hash,
        "idempotency_key": job.idempotency_key,
        "created_at": job.created_at,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "next_attempt_at": job.available_at if waiting else None,
        "lease_expires_at": job.lease_expires_at if job.status is JobStatus.RUNNING else None,
        "progress": {"items_read": job.items_read, "bytes_read": job.bytes_read}
        if job.status is JobStatus.RUNNING
        else None,
        "last_error": job.last_error,
        "finished_at": job.finished_at,
        "outcome": job_outcome(job),
        "report": None if job.report is None else job.report.to_json(),
        "location": location,
    }


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """A pull schedule: its rule, the format of what it pulls, and how the last pull went."""
    return {
        "id": schedule.id,
        "partner_id": schedule.partner_id,
        "interval_seconds": schedule.interval_seconds,
        "cron": schedule.cron,
        "enabled": schedule.enabled,
        "format": schedule.format,
        "version": schedule.version,
        "next_run_at": schedule.next_run_at,
        "last_run_at": schedule.last_run_at,
        "etag": schedule.etag,
        "last_modified": schedule.last_modified,
        "last_content_hash": schedule.last_content_hash,
        "last_outcome": schedule.last_outcome,
        "last_error": schedule.last_error,
        "last_job_id": schedule.last_job_id,
        "feed_mode": None if schedule.feed_mode is None else str(schedule.feed_mode),
    }


def circuit_json(circuit: FeedCircuit) -> dict[str, Any]:
    """One partner feed's circuit breaker."""
    return {
        "partner_id": circuit.partner_id,
        "endpoint": circuit.endpoint,
        "state": circuit.state,
        "failures": circuit.failures,
        "opened_at": circuit.opened_at,
        "next_probe_at": circuit.next_probe_at,
    }
