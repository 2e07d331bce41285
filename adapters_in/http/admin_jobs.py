"""Admin routes of the job queue and of partner fetches (S3, ADR 0006, ADR 0014).

Jobs: list (by status and partner, paged), inspect, and retry a dead one (409
`job_not_dead` for any other). Fetches: the circuit breaker of every partner
feed. Like every admin route, these need an admin key: 401 without a valid
one, 403 for a partner key, each refusal audited by the access guard; a retry
is audited as an admin action naming the admin and the client address.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.jobs import JobStatus

from ._context import context, request_info
from .auth import authorize
from .job_views import circuit_json, job_json, job_page_json
from .jobs import JOB_LIST_PARAMETERS
from .openapi import Operation, op, query
from .params import MAX_PARTNER_ID, query_enum, query_int, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]


def _location(request: Request, job_id: str) -> str:
    return f"{request.scope.get('root_path', '')}/admin/jobs/{job_id}"


async def list_jobs(request: Request) -> Response:
    """Jobs, most recent first, filtered and paged."""
    await authorize(request, KeyRole.ADMIN)
    page = await run_in_threadpool(
        context(request).app.jobs.page,
        partner_id=query_text(request, "partner_id", max_length=MAX_PARTNER_ID),
        status=query_enum(request, "status", JobStatus),
        limit=query_int(request, "limit", 50),
        offset=query_int(request, "offset", 0),
    )
    return JsonResponse(job_page_json(request, page, lambda job_id: _location(request, job_id)))


async def get_job(request: Request) -> Response:
    """Any partner's job."""
    await authorize(request, KeyRole.ADMIN)
    job = await run_in_threadpool(
        context(request).app.jobs.get, request.path_params["job_id"], partner_id=None
    )
    return JsonResponse(job_json(job, location=_location(request, job.id)))


async def retry_job(request: Request) -> Response:
    """Queue a dead job again, its attempts reset."""
    principal = await authorize(request, KeyRole.ADMIN)
    retry = context(request).app.jobs.retry
    job = await run_in_threadpool(
        retry, request.path_params["job_id"], actor=principal.actor, client=request_info(request).client
    )
    return JsonResponse(job_json(job, location=_location(request, job.id)))


async def list_circuits(request: Request) -> Response:
    """The circuit breaker of every partner feed."""
    await authorize(request, KeyRole.ADMIN)
    circuits = await run_in_threadpool(context(request).app.fetch_health.circuits)
    return JsonResponse({"circuits": [circuit_json(entry) for entry in circuits]})


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/jobs", list_jobs, methods=["GET"], name="admin_list_jobs"),
    Route("/admin/jobs/{job_id}", get_job, methods=["GET"], name="admin_get_job"),
    Route("/admin/jobs/{job_id}/retry", retry_job, methods=["POST"], name="admin_retry_job"),
    Route("/admin/circuits", list_circuits, methods=["GET"], name="admin_list_circuits"),
]

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/jobs", "get"): op(
        "List jobs", tag="admin", auth="admin",
        parameters=[query("partner_id", {"type": "string", "maxLength": MAX_PARTNER_ID}), *JOB_LIST_PARAMETERS],
        description="Most recent first, filtered by status and partner; page with offset=<next_offset> "
        "(or follow `next`). Queue depth per status is in /metrics (partner_ingest_jobs).",
        ok=(200, "a page of jobs", "JobPage"), errors=(400, 422),
    ),
    ("/admin/jobs/{job_id}", "get"): op(
        "Show a job", tag="admin", auth="admin", ok=(200, "the job", "Job"), errors=(404,),
    ),
    ("/admin/jobs/{job_id}/retry", "post"): op(
        "Retry a dead job", tag="admin", auth="admin",
        description="Queues the job again with its attempts reset; audited as admin.action. Only a dead "
        "job can be retried: any other answers 409 job_not_dead (details.status says what it is).",
        ok=(200, "the job, queued", "Job"), errors=(404, 409),
    ),
    ("/admin/circuits", "get"): op(
        "Circuit breakers of partner feeds", tag="admin", auth="admin",
        description="One entry per partner feed (its endpoint shown as scheme://host:port). Circuits are "
        "kept in the database, so every instance and every scheduler process sees the same states, and "
        "a restart keeps them. Counts per state are in /metrics.",
        ok=(200, "every partner feed", "CircuitList"),
    ),
}  # fmt: skip
