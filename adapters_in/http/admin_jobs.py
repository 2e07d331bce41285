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
from partner_ingest.domain.use_cases.query_jobs import MAX_RETRY_BATCH

from ._context import context, request_info
from .auth import authorize
from .body import read_json
from .job_views import circuit_json, job_json, job_page_json
from .jobs import CANCEL_DESCRIPTION, JOB_LIST_PARAMETERS
from .openapi import Operation, json_body, op, query
from .params import MAX_PARTNER_ID, JsonFields, query_enum, query_int, query_text
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


async def cancel_job(request: Request) -> Response:
    """Cancel any partner's queued or running job; audited."""
    principal = await authorize(request, KeyRole.ADMIN)
    cancel = context(request).app.jobs.cancel
    job = await run_in_threadpool(
        cancel,
        request.path_params["job_id"],
        partner_id=None,
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse(job_json(job, location=_location(request, job.id)))


async def retry_dead_jobs(request: Request) -> Response:
    """Queue dead jobs again in bulk (of one partner, or of all), most recent first; audited once."""
    principal = await authorize(request, KeyRole.ADMIN)
    fields = JsonFields(await read_json(request), ("partner_id", "limit"))
    partner_id, limit = fields.optional_text("partner_id"), fields.integer("limit")
    fields.done()
    retried = await run_in_threadpool(
        context(request).app.jobs.retry_dead,
        partner_id=partner_id if isinstance(partner_id, str) else None,
        limit=limit if isinstance(limit, int) else 100,
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse({"retried": list(retried.retried), "body_purged": list(retried.body_purged)})


async def list_circuits(request: Request) -> Response:
    """The circuit breaker of every partner feed."""
    await authorize(request, KeyRole.ADMIN)
    circuits = await run_in_threadpool(context(request).app.fetch_health.circuits)
    return JsonResponse({"circuits": [circuit_json(entry) for entry in circuits]})


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/jobs", list_jobs, methods=["GET"], name="admin_list_jobs"),
    Route("/admin/jobs/{job_id}", get_job, methods=["GET"], name="admin_get_job"),
    # Before /admin/jobs/{job_id}/retry, which would take "dead" for a job id (job ids are job_...);
    # two segments, so that GET /admin/jobs/{job_id} never takes it for one either.
    Route("/admin/jobs/dead/retry", retry_dead_jobs, methods=["POST"], name="admin_retry_dead_jobs"),
    Route("/admin/jobs/{job_id}/retry", retry_job, methods=["POST"], name="admin_retry_job"),
    Route("/admin/jobs/{job_id}/cancel", cancel_job, methods=["POST"], name="admin_cancel_job"),
    Route("/admin/circuits", list_circuits, methods=["GET"], name="admin_list_circuits"),
]

_RETRY_BODY: Final = {
    "type": "object",
    "properties": {
        "partner_id": {"type": ["string", "null"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RETRY_BATCH},
    },
    "additionalProperties": False,
}
_RETRIED: Final = {
    "type": "object",
    "required": ["retried", "body_purged"],
    "properties": {
        "retried": {"type": "array", "items": {"type": "string"}},
        "body_purged": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}

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
    ("/admin/jobs/{job_id}/cancel", "post"): op(
        "Cancel a job, queued or running", tag="admin", auth="admin",
        ok=(200, "the job, cancelled", "Job"), errors=(404, 409), description=CANCEL_DESCRIPTION,
    ),
    ("/admin/jobs/dead/retry", "post"): op(
        "Retry dead jobs in bulk", tag="admin", auth="admin",
        description=f"Queues again up to `limit` (1..{MAX_RETRY_BATCH}, default 100) dead jobs, most recent "
        "first, of `partner_id` or of every partner, their attempts reset, in one transaction; audited "
        "once as admin.action. A dead job whose feed body was purged stays dead and is listed in "
        "body_purged. invalid_page: limit out of bounds; invalid_request: a field of the wrong type.",
        body=json_body(_RETRY_BODY, "optional filter", required=False),
        ok=(200, "the jobs queued again, and those that could not be", _RETRIED),
        errors=(422,),
    ),
    ("/admin/circuits", "get"): op(
        "Circuit breakers of partner feeds", tag="admin", auth="admin",
        description="One entry per partner feed (its endpoint shown as scheme://host:port). Circuits are "
        "kept in the database, so every instance and every scheduler process sees the same states, and "
        "a restart keeps them. Counts per state are in /metrics.",
        ok=(200, "every partner feed", "CircuitList"),
    ),
}  # fmt: skip
