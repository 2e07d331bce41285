"""Partner routes of jobs: a feed sent as a job (see _async_feed.py) is followed here.

`GET /partner/jobs/{job_id}` shows status, attempts, the next attempt, the last
error and, once done, the report; `GET /partner/jobs` lists the partner's
latest jobs. A partner sees only its own: another partner's job id answers the
same 404 as one that does not exist (ADR 0006).
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.jobs import JobStatus
from partner_ingest.domain.use_cases.jobs import MAX_JOB_OFFSET, MAX_JOB_PAGE

from ._async_feed import MODES, job_location
from ._context import context, request_info
from .auth import authorize
from .job_views import job_json, job_page_json
from .openapi import Operation, link, op, query, ref
from .params import query_enum, query_int
from .views import JsonResponse

__all__ = [
    "ASYNC_PARAMETERS",
    "JOB_ACCEPTED",
    "CANCEL_DESCRIPTION",
    "JOB_LIST_PARAMETERS",
    "OPERATIONS",
    "ROUTES",
]


async def list_jobs(request: Request) -> Response:
    """The partner's latest jobs, a page at a time."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    page = await run_in_threadpool(
        context(request).app.jobs.page,
        partner_id=principal.partner_id,
        status=query_enum(request, "status", JobStatus),
        limit=query_int(request, "limit", 50),
        offset=query_int(request, "offset", 0),
    )
    return JsonResponse(job_page_json(request, page, lambda job_id: job_location(request, job_id)))


async def get_job(request: Request) -> Response:
    """One of the partner's jobs."""
    principal = await authorize(request, KeyRole.PARTNER)
    job_id = request.path_params["job_id"]
    job = await run_in_threadpool(context(request).app.jobs.get, job_id, partner_id=principal.partner_id)
    return JsonResponse(job_json(job, location=job_location(request, job.id)))


async def cancel_job(request: Request) -> Response:
    """Cancel one of the partner's queued or running jobs; audited."""
    principal = await authorize(request, KeyRole.PARTNER)
    cancel = context(request).app.jobs.cancel
    job = await run_in_threadpool(
        cancel,
        request.path_params["job_id"],
        partner_id=principal.partner_id,
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse(job_json(job, location=job_location(request, job.id)))


ROUTES: Final[list[BaseRoute]] = [
    Route("/partner/jobs", list_jobs, methods=["GET"], name="list_jobs"),
    Route("/partner/jobs/{job_id}", get_job, methods=["GET"], name="get_job"),
    Route("/partner/jobs/{job_id}/cancel", cancel_job, methods=["POST"], name="cancel_job"),
]

# --- OpenAPI -------------------------------------------------------------------------

ASYNC_PARAMETERS: Final = [
    {
        "name": "Prefer",
        "in": "header",
        "schema": {"type": "string", "examples": ["respond-async"]},
        "description": "respond-async: store the feed as a job and answer 202 at once "
        "(Preference-Applied: respond-async); required for feeds over max_sync_bytes",
    },
    query(
        "mode",
        {"type": "string", "enum": list(MODES)},
        "async: the same as Prefer: respond-async; sync: process now whatever Prefer says",
    ),
]
JOB_ACCEPTED: Final = {
    202: {
        "description": "stored as a job (committed before this answer); poll Location for its report",
        "headers": {
            "Location": {"description": "the job: /partner/jobs/{job_id}", "schema": {"type": "string"}},
            "Preference-Applied": {"description": "respond-async", "schema": {"type": "string"}},
            "Retry-After": {
                "description": "seconds before polling Location is worth it (a worker's poll)",
                "schema": {"type": "integer"},
            },
            "X-Request-ID": ref("headers", "X-Request-ID"),
        },
        "content": {"application/json": {"schema": ref("schemas", "Job")}},
        "links": link(
            {
                name: {"job_id": "$response.body#/id"}
                for name in ("get_job", "admin_get_job", "admin_retry_job")
            }
        ),
    }
}
CANCEL_DESCRIPTION: Final = (
    "A queued job is never processed. A running one stops at its next read of the feed (its worker "
    "loses the lease within a heartbeat) and nothing of it is written. Audited as job.cancelled. A "
    "job that has finished answers 409 job_finished (details.status says how it ended); another "
    "partner's job 404 like an unknown one."
)
JOB_LIST_PARAMETERS: Final = [
    query("status", {"type": "string", "enum": [str(s) for s in JobStatus]}),
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_JOB_PAGE}),
    query(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_JOB_OFFSET},
        "jobs to skip; deeper pages: filter by status or partner",
    ),
]

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/partner/jobs", "get"): op(
        "Your latest jobs", tag="partner", auth="partner", parameters=JOB_LIST_PARAMETERS,
        description="Most recent first; page with offset=<next_offset> (or follow `next`). Jobs arriving "
        "meanwhile push older ones down, so a page may repeat a job of the previous one.",
        ok=(200, "a page of jobs", "JobPage"), errors=(400, 422),
    ),
    ("/partner/jobs/{job_id}", "get"): op(
        "One of your jobs: status, attempts, next attempt, last error, and the report when done",
        tag="partner", auth="partner", ok=(200, "the job", "Job"), errors=(404,),
        description="Another partner's job id answers 404, exactly like an unknown one. status: queued "
        "(next_attempt_at says when), running, succeeded (report: accepted, partial or rejected), dead "
        "(every attempt failed: last_error says why; an admin can retry it).",
    ),
    ("/partner/jobs/{job_id}/cancel", "post"): op(
        "Cancel one of your jobs, queued or running", tag="partner", auth="partner",
        ok=(200, "the job, cancelled", "Job"), errors=(404, 409),
        description=CANCEL_DESCRIPTION,
    ),
}  # fmt: skip
