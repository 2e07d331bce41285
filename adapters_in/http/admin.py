"""Admin routes (S3, ADR 0006): partners, API keys and the audit trail.

Every route needs an admin key: no valid key is 401, a partner key is 403, and
the guard audits each refusal. The audit trail names the admin as
`admin:<key id>` with the client address. Jobs and circuit breakers are in
admin_jobs.py, pull schedules in admin_schedules.py, under the same rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole, Principal
from partner_ingest.domain.model.audit import AuditAction, AuditQuery, Outcome
from partner_ingest.domain.use_cases.manage_keys import MAX_OVERLAP
from partner_ingest.domain.use_cases.manage_partners import PartnerChanges
from partner_ingest.domain.use_cases.query_audit import MAX_AUDIT_PAGE

from ._context import context, request_info
from .auth import authorize
from .body import read_json
from .openapi import Operation, json_body, op, query
from .params import (
    INT64_MAX,
    MAX_PARTNER_ID,
    JsonFields,
    query_datetime,
    query_enum,
    query_int,
    query_optional_int,
    query_text,
)
from .views import JsonResponse, audit_entry_json, created_key_json, key_json, partner_json

__all__ = ["OPERATIONS", "ROUTES"]

_PARTNER_FIELDS: Final = (
    "name",
    "default_format",
    "default_version",
    "policy",
    "allow_policy_override",
    "currency",
    "rate_limit_per_minute",
    "endpoint",
    "endpoint_auth",
    "endpoint_headers",
    "active",
    "feed_mode",
)
DEFAULT_OVERLAP: Final = timedelta(hours=24)


async def _admin(request: Request) -> tuple[Principal, str]:
    principal = await authorize(request, KeyRole.ADMIN)
    return principal, request_info(request).client


def _partner_changes(fields: JsonFields) -> PartnerChanges:
    changes = PartnerChanges(
        name=fields.text("name"),
        default_format=fields.text("default_format"),
        default_version=fields.integer("default_version"),
        policy=fields.policy("policy"),
        allow_policy_override=fields.boolean("allow_policy_override"),
        currency=fields.optional_text("currency"),
        rate_limit_per_minute=fields.optional_integer("rate_limit_per_minute"),
        endpoint=fields.optional_text("endpoint"),
        endpoint_auth=fields.optional_text("endpoint_auth"),
        endpoint_headers=fields.string_map("endpoint_headers"),
        active=fields.boolean("active"),
        feed_mode=fields.feed_mode("feed_mode"),
    )
    fields.done()
    return changes


# --- partners ---------------------------------------------------------------------


async def create_partner(request: Request) -> Response:
    """A new partner (201)."""
    principal, client = await _admin(request)
    fields = JsonFields(await read_json(request), ("id", *_PARTNER_FIELDS))
    given_id = fields.text("id")
    changes = _partner_changes(fields)
    partner_id = given_id if isinstance(given_id, str) else ""  # the use case says why "" is no id
    create = context(request).app.partners.create
    view = await run_in_threadpool(create, partner_id, changes, actor=principal.actor, client=client)
    location = f"{request.scope.get('root_path', '')}/admin/partners/{view.id}"
    return JsonResponse(partner_json(view), status_code=201, headers={"Location": location})


async def list_partners(request: Request) -> Response:
    """Every partner."""
    await _admin(request)
    views = await run_in_threadpool(context(request).app.partners.list_partners)
    return JsonResponse({"partners": [partner_json(v) for v in views]})


async def get_partner(request: Request) -> Response:
    """One partner."""
    await _admin(request)
    view = await run_in_threadpool(context(request).app.partners.get, request.path_params["partner_id"])
    return JsonResponse(partner_json(view))


async def update_partner(request: Request) -> Response:
    """Change the given fields of a partner."""
    principal, client = await _admin(request)
    changes = _partner_changes(JsonFields(await read_json(request), _PARTNER_FIELDS))
    update = context(request).app.partners.update
    partner_id = request.path_params["partner_id"]
    view = await run_in_threadpool(update, partner_id, changes, actor=principal.actor, client=client)
    return JsonResponse(partner_json(view))


# --- keys -------------------------------------------------------------------------


async def _create_key(request: Request, role: KeyRole, partner_id: str | None) -> Response:
    principal, client = await _admin(request)
    fields = JsonFields(await read_json(request), ("label", "expires_at"))
    label, expires_at = fields.text("label"), fields.moment("expires_at")
    fields.done()
    created = await run_in_threadpool(
        context(request).app.keys.create,
        role,
        partner_id,
        actor=principal.actor,
        client=client,
        label=label if isinstance(label, str) else "",
        expires_at=expires_at if isinstance(expires_at, datetime) else None,
    )
    return JsonResponse(created_key_json(created), status_code=201)


async def create_partner_key(request: Request) -> Response:
    """A new key for a partner (201); the only answer that shows it."""
    return await _create_key(request, KeyRole.PARTNER, request.path_params["partner_id"])


async def list_partner_keys(request: Request) -> Response:
    """A partner's keys, masked."""
    await _admin(request)
    keys = await run_in_threadpool(context(request).app.keys.list_keys, request.path_params["partner_id"])
    return JsonResponse({"keys": [key_json(k) for k in keys]})


async def create_admin_key(request: Request) -> Response:
    """A new admin key (201): one per operator or automation, so the audit trail can name them."""
    return await _create_key(request, KeyRole.ADMIN, None)


async def list_admin_keys(request: Request) -> Response:
    """The admin keys, masked."""
    await _admin(request)
    keys = await run_in_threadpool(context(request).app.keys.list_keys, None)
    return JsonResponse({"keys": [key_json(k) for k in keys]})


async def get_key(request: Request) -> Response:
    """One key, masked."""
    await _admin(request)
    key = await run_in_threadpool(context(request).app.keys.get, request.path_params["key_id"])
    return JsonResponse(key_json(key))


async def revoke_key(request: Request) -> Response:
    """Stop a key now."""
    principal, client = await _admin(request)
    revoke = context(request).app.keys.revoke
    key = await run_in_threadpool(revoke, request.path_params["key_id"], actor=principal.actor, client=client)
    return JsonResponse(key_json(key))


async def rotate_key(request: Request) -> Response:
    """A replacement key (201); the old one keeps working for `overlap_seconds`, then stops."""
    principal, client = await _admin(request)
    fields = JsonFields(await read_json(request), ("overlap_seconds", "expires_at"))
    overlap, expires_at = fields.integer("overlap_seconds"), fields.moment("expires_at")
    fields.done()
    created = await run_in_threadpool(
        context(request).app.keys.rotate,
        request.path_params["key_id"],
        # Past MAX_OVERLAP the use case refuses it; clamped first so no timedelta overflows.
        overlap=timedelta(seconds=min(overlap, int(MAX_OVERLAP.total_seconds()) + 1))
        if isinstance(overlap, int)
        else DEFAULT_OVERLAP,
        actor=principal.actor,
        client=client,
        expires_at=expires_at if isinstance(expires_at, datetime) else None,
    )
    return JsonResponse(created_key_json(created), status_code=201)


# --- audit ------------------------------------------------------------------------


async def query_audit(request: Request) -> Response:
    """Audit entries, newest first, filtered and paged."""
    await _admin(request)
    query = AuditQuery(
        since=query_datetime(request, "since"),
        until=query_datetime(request, "until"),
        partner_id=query_text(request, "partner_id", max_length=MAX_PARTNER_ID),
        action=query_enum(request, "action", AuditAction),
        outcome=query_enum(request, "outcome", Outcome),
        limit=query_int(request, "limit", 100),
        before_id=query_optional_int(request, "before_id"),
    )
    page = await run_in_threadpool(context(request).app.audit_trail, query)
    following = None
    if page.next_before_id is not None:
        following = str(request.url.include_query_params(before_id=page.next_before_id))
    body: dict[str, Any] = {
        "entries": [audit_entry_json(e) for e in page.entries],
        "next_before_id": page.next_before_id,
        "next": following,
    }
    return JsonResponse(body)


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/partners", create_partner, methods=["POST"], name="create_partner"),
    Route("/admin/partners", list_partners, methods=["GET"], name="list_partners"),
    Route("/admin/partners/{partner_id}", get_partner, methods=["GET"], name="get_partner"),
    Route("/admin/partners/{partner_id}", update_partner, methods=["PATCH"], name="update_partner"),
    Route(
        "/admin/partners/{partner_id}/keys", create_partner_key, methods=["POST"], name="create_partner_key"
    ),
    Route("/admin/partners/{partner_id}/keys", list_partner_keys, methods=["GET"], name="list_partner_keys"),
    Route("/admin/keys", create_admin_key, methods=["POST"], name="create_admin_key"),
    Route("/admin/keys", list_admin_keys, methods=["GET"], name="list_admin_keys"),
    Route("/admin/keys/{key_id}", get_key, methods=["GET"], name="get_key"),
    Route("/admin/keys/{key_id}/revoke", revoke_key, methods=["POST"], name="revoke_key"),
    Route("/admin/keys/{key_id}/rotate", rotate_key, methods=["POST"], name="rotate_key"),
    Route("/admin/audit", query_audit, methods=["GET"], name="query_audit"),
    # jobs and circuits: admin_jobs.py; schedules: admin_schedules.py
]

_WRITES: Final = (400, 404, 409, 415, 422)
_KEY_LINKS: Final = {
    name: {"key_id": "$response.body#/id"} for name in ("get_key", "revoke_key", "rotate_key")
}

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/partners", "post"): op(
        "Create a partner", tag="admin", auth="admin", body=json_body("PartnerCreate"),
        description="Audited as partner.changed (and credentials.changed when endpoint credentials are given). "
        "endpoint_auth and endpoint_headers values are stored encrypted and answered as ****. "
        "An endpoint on a loopback, private, link-local or metadata address is refused (422).",
        ok=(201, "the partner (Location: its URL)", "Partner"), errors=_WRITES,
        links={name: {"partner_id": "$response.body#/id"} for name in (
            "get_partner", "update_partner", "create_partner_key", "list_partner_keys", "create_schedule",
            "list_partner_schedules",
        )},
    ),
    ("/admin/partners", "get"): op("List partners", tag="admin", auth="admin", ok=(200, "every partner", "PartnerList")),
    ("/admin/partners/{partner_id}", "get"): op(
        "Show a partner", tag="admin", auth="admin", ok=(200, "the partner", "Partner"), errors=(404,),
    ),
    ("/admin/partners/{partner_id}", "patch"): op(
        "Change a partner", tag="admin", auth="admin",
        body=json_body("PartnerUpdate", "the fields to change; none (or no body) changes nothing", required=False),
        description="Only the fields given change; null clears a nullable field; policy is replaced whole.",
        ok=(200, "the partner", "Partner"), errors=_WRITES,
    ),
    ("/admin/partners/{partner_id}/keys", "post"): op(
        "Issue an API key for a partner", tag="admin", auth="admin", body=json_body("KeyCreate", required=False),
        ok=(201, "the key, shown this once", "CreatedKey"), errors=_WRITES, links=_KEY_LINKS,
    ),
    ("/admin/partners/{partner_id}/keys", "get"): op(
        "List a partner's keys (masked)", tag="admin", auth="admin", ok=(200, "newest first", "KeyList"),
        errors=(404,),
    ),
    ("/admin/keys", "post"): op(
        "Issue an admin key", tag="admin", auth="admin", body=json_body("KeyCreate", required=False),
        ok=(201, "the key, shown this once", "CreatedKey"), errors=(400, 415, 422), links=_KEY_LINKS,
    ),
    ("/admin/keys", "get"): op("List admin keys (masked)", tag="admin", auth="admin", ok=(200, "newest first", "KeyList")),
    ("/admin/keys/{key_id}", "get"): op(
        "Show a key (masked)", tag="admin", auth="admin", ok=(200, "the key", "Key"), errors=(404,),
    ),
    ("/admin/keys/{key_id}/revoke", "post"): op(
        "Revoke a key now", tag="admin", auth="admin", ok=(200, "the key, revoked", "Key"), errors=(404, 409),
        description="Idempotent; audited as key.revoked every time. The last admin key in service is not "
        "revoked (409 last_admin_key, audited as denied): create another admin key first.",
    ),
    ("/admin/keys/{key_id}/rotate", "post"): op(
        "Rotate a key with an overlap", tag="admin", auth="admin", body=json_body("KeyRotate", required=False),
        description="Issues a replacement; the old key keeps working for overlap_seconds (default 86400), then stops.",
        ok=(201, "the new key, shown this once", "CreatedKey"), errors=_WRITES, links=_KEY_LINKS,
    ),
    ("/admin/audit", "get"): op(
        "Query the audit trail", tag="admin", auth="admin",
        description="Newest first. Page backwards with before_id=<next_before_id> (or follow `next`).",
        parameters=[
            query("since", {"type": "string", "format": "date-time"}, "from this moment on (before until)"),
            query("until", {"type": "string", "format": "date-time"}, "before this moment"),
            query("partner_id", {"type": "string", "maxLength": MAX_PARTNER_ID}),
            query("action", {"type": "string", "enum": [str(a) for a in AuditAction]}),
            query("outcome", {"type": "string", "enum": [str(o) for o in Outcome]}),
            query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_PAGE}),
            query("before_id", {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}),
        ],
        ok=(200, "a page of entries", "AuditPage"), errors=(400, 422),
    ),
    # jobs and circuits: admin_jobs.py; schedules: admin_schedules.py
}  # fmt: skip
