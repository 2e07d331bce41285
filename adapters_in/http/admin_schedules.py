"""Admin routes of pull schedules (S3, S4): when the platform fetches a partner's feed.

Laid out like the keys: created and listed under their partner
(`/admin/partners/{partner_id}/schedules`), read, changed and deleted by their own
id (`/admin/schedules/{schedule_id}`). A schedule runs every `interval_seconds`
(at least 60) or by a five-field UTC `cron` expression, never both. What is
fetched, and with which credentials, is the partner's (`endpoint`,
`endpoint_auth`, `endpoint_headers` through PATCH /admin/partners/{id}); a
schedule holds no secret, and none is ever answered here. Every change is
audited by `ManageSchedules` with the admin and the client address.
"""

from __future__ import annotations

from typing import Final, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole, Principal
from partner_ingest.domain.use_cases.manage_partners import Unset

from ._context import context, request_info
from .auth import authorize
from .body import read_json
from .job_views import schedule_json
from .openapi import Operation, json_body, op, query
from .params import MAX_PARTNER_ID, JsonFields, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]

_RULE_FIELDS: Final = ("interval_seconds", "cron", "enabled")
_CREATE_FIELDS: Final = (*_RULE_FIELDS, "format", "version", "feed_mode")


async def _admin(request: Request) -> tuple[Principal, str]:
    principal = await authorize(request, KeyRole.ADMIN)
    return principal, request_info(request).client


T = TypeVar("T")


def _given(value: T | Unset) -> T | None:
    # JsonFields reads an absent field as UNSET; the use case takes None for "not given".
    return None if isinstance(value, Unset) else value


def _location(request: Request, schedule_id: str) -> str:
    return f"{request.scope.get('root_path', '')}/admin/schedules/{schedule_id}"


async def create_schedule(request: Request) -> Response:
    """A new schedule for a partner (201)."""
    principal, client = await _admin(request)
    fields = JsonFields(await read_json(request), _CREATE_FIELDS)
    interval, cron = fields.integer("interval_seconds"), fields.text("cron")
    enabled, fmt, version = fields.boolean("enabled"), fields.text("format"), fields.integer("version")
    feed_mode = fields.feed_mode("feed_mode")
    fields.done()
    schedule = await run_in_threadpool(
        context(request).app.schedules.create,
        request.path_params["partner_id"],
        actor=principal.actor,
        client=client,
        interval_seconds=_given(interval),
        cron=_given(cron),
        format=_given(fmt),
        version=_given(version),
        feed_mode=_given(feed_mode),
        enabled=enabled if isinstance(enabled, bool) else True,
    )
    location = _location(request, schedule.id)
    return JsonResponse(schedule_json(schedule), status_code=201, headers={"Location": location})


async def list_partner_schedules(request: Request) -> Response:
    """A partner's schedules."""
    await _admin(request)
    found = await run_in_threadpool(context(request).app.schedules.all, request.path_params["partner_id"])
    return JsonResponse({"schedules": [schedule_json(s) for s in found]})


async def list_schedules(request: Request) -> Response:
    """Every schedule, or one partner's (`?partner_id=`)."""
    await _admin(request)
    partner_id = query_text(request, "partner_id", max_length=MAX_PARTNER_ID)
    found = await run_in_threadpool(context(request).app.schedules.all, partner_id)
    return JsonResponse({"schedules": [schedule_json(s) for s in found]})


async def get_schedule(request: Request) -> Response:
    """One schedule."""
    await _admin(request)
    found = await run_in_threadpool(context(request).app.schedules.get, request.path_params["schedule_id"])
    return JsonResponse(schedule_json(found))


async def update_schedule(request: Request) -> Response:
    """Change the rule (interval or cron: the one given replaces the other) or switch it on or off."""
    principal, client = await _admin(request)
    fields = JsonFields(await read_json(request), _RULE_FIELDS)
    interval, cron, enabled = (
        fields.integer("interval_seconds"),
        fields.text("cron"),
        fields.boolean("enabled"),
    )
    fields.done()
    schedule = await run_in_threadpool(
        context(request).app.schedules.update,
        request.path_params["schedule_id"],
        actor=principal.actor,
        client=client,
        interval_seconds=_given(interval),
        cron=_given(cron),
        enabled=_given(enabled),
    )
    return JsonResponse(schedule_json(schedule))


async def delete_schedule(request: Request) -> Response:
    """Remove a schedule (204)."""
    principal, client = await _admin(request)
    delete = context(request).app.schedules.delete
    await run_in_threadpool(delete, request.path_params["schedule_id"], actor=principal.actor, client=client)
    return Response(status_code=204)


async def run_schedule(request: Request) -> Response:
    """Pull a schedule's feed now, due or not; answer how it went and the schedule after it."""
    principal, client = await _admin(request)
    app = context(request).app
    schedule_id = request.path_params["schedule_id"]
    result = await run_in_threadpool(
        app.pull_feeds.run_now, schedule_id, actor=principal.actor, client=client
    )
    schedule = await run_in_threadpool(app.schedules.get, schedule_id)
    return JsonResponse(
        {"outcome": result.outcome, "job_id": result.job_id, "schedule": schedule_json(schedule)}
    )


ROUTES: Final[list[BaseRoute]] = [
    Route(
        "/admin/partners/{partner_id}/schedules", create_schedule, methods=["POST"], name="create_schedule"
    ),
    Route(
        "/admin/partners/{partner_id}/schedules",
        list_partner_schedules,
        methods=["GET"],
        name="list_partner_schedules",
    ),
    Route("/admin/schedules", list_schedules, methods=["GET"], name="list_schedules"),
    Route("/admin/schedules/{schedule_id}", get_schedule, methods=["GET"], name="get_schedule"),
    Route("/admin/schedules/{schedule_id}", update_schedule, methods=["PATCH"], name="update_schedule"),
    Route("/admin/schedules/{schedule_id}", delete_schedule, methods=["DELETE"], name="delete_schedule"),
    Route("/admin/schedules/{schedule_id}/run", run_schedule, methods=["POST"], name="run_schedule"),
]

_WRITES: Final = (400, 404, 415, 422)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/partners/{partner_id}/schedules", "post"): op(
        "Create a pull schedule for a partner", tag="admin", auth="admin", body=json_body("ScheduleCreate"),
        description="Exactly one of interval_seconds (at least 60; the first pull is due at once) and cron "
        "(five fields, UTC). format and version default to the partner's. The partner's endpoint and "
        "credentials are what is fetched. 422 invalid_schedule (or invalid_cron) for a rule that cannot run.",
        ok=(201, "the schedule (Location: its URL)", "Schedule"), errors=_WRITES,
        links={name: {"schedule_id": "$response.body#/id"} for name in (
            "get_schedule", "update_schedule", "delete_schedule",
        )},
    ),
    ("/admin/partners/{partner_id}/schedules", "get"): op(
        "List a partner's schedules", tag="admin", auth="admin", ok=(200, "by id", "ScheduleList"),
        errors=(404,), description="An unknown partner is a 404, not an empty list.",
    ),
    ("/admin/schedules", "get"): op(
        "List schedules", tag="admin", auth="admin",
        parameters=[query("partner_id", {"type": "string", "maxLength": MAX_PARTNER_ID})],
        ok=(200, "by id", "ScheduleList"), errors=(400, 404),
        description="Every schedule, or one partner's (an unknown partner_id is a 404).",
    ),
    ("/admin/schedules/{schedule_id}", "get"): op(
        "Show a schedule", tag="admin", auth="admin", ok=(200, "the schedule", "Schedule"), errors=(404,),
    ),
    ("/admin/schedules/{schedule_id}", "patch"): op(
        "Change a schedule", tag="admin", auth="admin",
        body=json_body("ScheduleUpdate", "the fields to change; none (or no body) changes nothing", required=False),
        description="interval_seconds or cron replaces the rule (the other is cleared) and sets the next run; "
        "enabled switches it on or off. Audited as admin.action.",
        ok=(200, "the schedule", "Schedule"), errors=_WRITES,
    ),
    ("/admin/schedules/{schedule_id}", "delete"): op(
        "Delete a schedule", tag="admin", auth="admin", ok=(204, "deleted", None), errors=(404,),
        description="Audited as admin.action.",
    ),
    ("/admin/schedules/{schedule_id}/run", "post"): op(
        "Run a schedule now", tag="admin", auth="admin",
        description="Pulls the partner's feed now, due or not, enabled or not, exactly as the scheduler "
        "would (same SSRF guard, circuit, conditional request, job); its cadence goes on from its own "
        "due time. The answer and the schedule's last_outcome, last_error, last_job_id and last_run_at "
        "say how it went. Audited as admin.action.",
        ok=(200, "how the run went, and the schedule after it", {
            "type": "object",
            "required": ["outcome", "job_id", "schedule"],
            "properties": {
                "outcome": {"type": "string"},
                "job_id": {"type": ["string", "null"]},
                "schedule": {"$ref": "#/components/schemas/Schedule"},
            },
            "additionalProperties": False,
        }),
        errors=(404,),
    ),
}  # fmt: skip
