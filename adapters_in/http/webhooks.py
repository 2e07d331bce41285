"""Routes of completion webhooks (ADR 0034): a partner's own (`/partner/webhook...`) and the
admin's view of every partner's (`/admin/partners/{partner_id}/webhook...`, `/admin/webhooks`).

The signing secret is answered once, when it is made (the first PUT, or a rotation); it is
never shown again, by any route. A disabled webhook shows why and since when; setting it
again (PUT) enables it. Every change is audited by `ManageWebhooks` with who and from where.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.adapters_in.json_forms import delivery_json, webhook_json
from partner_ingest.domain.model.api_keys import KeyRole, Principal
from partner_ingest.domain.use_cases.manage_partners import Unset
from partner_ingest.domain.use_cases.webhooks import MAX_DELIVERY_PAGE, WebhookSetup

from ._context import context, request_info
from .auth import authorize
from .body import read_json
from .openapi import Operation, json_body, op, query
from .params import JsonFields, query_int
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES", "delivery_json", "webhook_json"]


def _setup_json(setup: WebhookSetup) -> dict[str, Any]:
    shown = webhook_json(setup.webhook)
    if setup.secret is not None:
        shown["secret"] = setup.secret
    return shown


async def _partner(request: Request) -> tuple[Principal, str]:
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    return principal, principal.partner_id


async def _admin(request: Request) -> tuple[Principal, str]:
    principal = await authorize(request, KeyRole.ADMIN)
    return principal, request.path_params["partner_id"]


async def _url(request: Request) -> str:
    fields = JsonFields(await read_json(request), ("url",))
    url = fields.text("url")
    if isinstance(url, Unset):
        fields.problems.setdefault("url", "required: the http(s) URL events are POSTed to")
    fields.done()
    assert isinstance(url, str)
    return url


async def _put(request: Request, principal: Principal, partner_id: str) -> Response:
    url = await _url(request)
    setup = await run_in_threadpool(
        context(request).app.webhooks.set,
        partner_id,
        url,
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse(_setup_json(setup), status_code=201 if setup.secret is not None else 200)


async def _show(request: Request, partner_id: str) -> Response:
    hook = await run_in_threadpool(context(request).app.webhooks.get, partner_id)
    return JsonResponse(webhook_json(hook))


async def _remove(request: Request, principal: Principal, partner_id: str) -> Response:
    remove = context(request).app.webhooks.remove
    await run_in_threadpool(remove, partner_id, actor=principal.actor, client=request_info(request).client)
    return Response(status_code=204)


async def _deliveries(request: Request, partner_id: str | None) -> Response:
    limit = query_int(request, "limit", 50)
    found = await run_in_threadpool(context(request).app.webhooks.deliveries, partner_id, limit=limit)
    return JsonResponse({"deliveries": [delivery_json(d) for d in found]})


async def put_webhook(request: Request) -> Response:
    """Set your webhook URL: 201 with the signing secret the first time, 200 after."""
    principal, partner_id = await _partner(request)
    return await _put(request, principal, partner_id)


async def get_webhook(request: Request) -> Response:
    """Your webhook."""
    _, partner_id = await _partner(request)
    return await _show(request, partner_id)


async def delete_webhook(request: Request) -> Response:
    """Remove your webhook (204)."""
    principal, partner_id = await _partner(request)
    return await _remove(request, principal, partner_id)


async def rotate_secret(request: Request) -> Response:
    """A new signing secret, answered once; the old one signs too until the overlap ends."""
    principal, partner_id = await _partner(request)
    rotate = context(request).app.webhooks.rotate
    setup = await run_in_threadpool(
        rotate, partner_id, actor=principal.actor, client=request_info(request).client
    )
    return JsonResponse(_setup_json(setup))


async def send_test(request: Request) -> Response:
    """Queue a `webhook.test` event (202); its delivery shows in the log."""
    principal, partner_id = await _partner(request)
    delivery = await run_in_threadpool(
        context(request).app.webhooks.send_test, partner_id, actor=principal.actor
    )
    return JsonResponse(delivery_json(delivery), status_code=202)


async def list_deliveries(request: Request) -> Response:
    """Your delivery log, newest first."""
    _, partner_id = await _partner(request)
    return await _deliveries(request, partner_id)


async def admin_put_webhook(request: Request) -> Response:
    """Set a partner's webhook URL (enables it again when disabled)."""
    principal, partner_id = await _admin(request)
    return await _put(request, principal, partner_id)


async def admin_get_webhook(request: Request) -> Response:
    """A partner's webhook, with whether and why it is disabled."""
    _, partner_id = await _admin(request)
    return await _show(request, partner_id)


async def admin_delete_webhook(request: Request) -> Response:
    """Remove a partner's webhook (204)."""
    principal, partner_id = await _admin(request)
    return await _remove(request, principal, partner_id)


async def admin_list_deliveries(request: Request) -> Response:
    """A partner's delivery log, newest first."""
    _, partner_id = await _admin(request)
    return await _deliveries(request, partner_id)


async def admin_list_webhooks(request: Request) -> Response:
    """Every partner's webhook, disabled ones included."""
    await authorize(request, KeyRole.ADMIN)
    found = await run_in_threadpool(context(request).app.webhooks.all)
    return JsonResponse({"webhooks": [{"partner_id": h.partner_id, **webhook_json(h)} for h in found]})


_ADMIN_HOOK: Final = "/admin/partners/{partner_id}/webhook"

ROUTES: Final[list[BaseRoute]] = [
    Route("/partner/webhook", put_webhook, methods=["PUT"], name="put_webhook"),
    Route("/partner/webhook", get_webhook, methods=["GET"], name="get_webhook"),
    Route("/partner/webhook", delete_webhook, methods=["DELETE"], name="delete_webhook"),
    Route("/partner/webhook/rotate", rotate_secret, methods=["POST"], name="rotate_webhook_secret"),
    Route("/partner/webhook/test", send_test, methods=["POST"], name="send_webhook_test"),
    Route("/partner/webhook/deliveries", list_deliveries, methods=["GET"], name="list_webhook_deliveries"),
    Route(_ADMIN_HOOK, admin_put_webhook, methods=["PUT"], name="admin_put_webhook"),
    Route(_ADMIN_HOOK, admin_get_webhook, methods=["GET"], name="admin_get_webhook"),
    Route(_ADMIN_HOOK, admin_delete_webhook, methods=["DELETE"], name="admin_delete_webhook"),
    Route(
        f"{_ADMIN_HOOK}/deliveries",
        admin_list_deliveries,
        methods=["GET"],
        name="admin_list_webhook_deliveries",
    ),
    Route("/admin/webhooks", admin_list_webhooks, methods=["GET"], name="admin_list_webhooks"),
]

# --- OpenAPI -------------------------------------------------------------------------

_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_WEBHOOK: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "enabled": {"type": "boolean"},
        "consecutive_failures": {"type": "integer"},
        "disabled_at": _TIME,
        "disabled_reason": {"type": ["string", "null"]},
        "previous_secret_valid_until": _TIME,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "secret": {
            "type": "string",
            "description": "whsec_<base64>: only when just made (first PUT, rotation); never shown again",
        },
    },
}
_DELIVERY: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "also the webhook-id header of every attempt"},
        "event": {"type": "string", "enum": ["import.completed", "job.dead", "webhook.test"]},
        "status": {"type": "string", "enum": ["pending", "delivering", "delivered", "failed"]},
        "attempts": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "next_attempt_at": _TIME,
        "last_status": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]},
        "delivered_at": _TIME,
        "payload": {"type": "string", "description": "the JSON body exactly as signed and sent"},
    },
}
_DELIVERIES: Final = {"type": "object", "properties": {"deliveries": {"type": "array", "items": _DELIVERY}}}
_URL_BODY: Final = json_body(
    {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string", "format": "uri"}},
        "additionalProperties": False,
    }
)
_LIMIT: Final = query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERY_PAGE})
_SET_DOC: Final = (
    "An http(s) URL on a public address (checked now, and at every delivery, like scheduled pulls). "
    "The first time: 201 with `secret` (whsec_..., shown once). After: 200, the secret unchanged; a "
    "disabled webhook is enabled again. Events (import.completed, job.dead) are POSTed signed per "
    "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) and retried with "
    "exponential backoff for a day. 422 invalid_webhook for a URL that cannot be used."
)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/partner/webhook", "put"): op(
        "Set your completion webhook", tag="partner", auth="partner", body=_URL_BODY, description=_SET_DOC,
        ok=(201, "created, with its signing secret (shown once)", _WEBHOOK), errors=(400, 404, 422),
        extra_ok={200: {"description": "updated (no secret)", "content": {"application/json": {"schema": _WEBHOOK}}}},
    ),
    ("/partner/webhook", "get"): op(
        "Your completion webhook", tag="partner", auth="partner", ok=(200, "never with the secret", _WEBHOOK),
        errors=(404,), description="404 when none is set. A disabled one says why and since when.",
    ),
    ("/partner/webhook", "delete"): op(
        "Remove your completion webhook", tag="partner", auth="partner", ok=(204, "removed", None),
        errors=(404,), description="Deliveries still queued fail as they come due. Audited.",
    ),
    ("/partner/webhook/rotate", "post"): op(
        "Rotate your webhook's signing secret", tag="partner", auth="partner",
        ok=(200, "with the new secret (shown once)", _WEBHOOK), errors=(404,),
        description="The old secret keeps signing beside the new one (two signatures in "
        "webhook-signature) until previous_secret_valid_until (PARTNER_INGEST_WEBHOOK_SECRET_OVERLAP_SECONDS).",
    ),
    ("/partner/webhook/test", "post"): op(
        "Send a test event to your webhook", tag="partner", auth="partner",
        ok=(202, "queued: the delivery (see the log for how it went)", _DELIVERY), errors=(404, 409),
        description="A webhook.test event, delivered like any other. 409 webhook_disabled when disabled.",
    ),
    ("/partner/webhook/deliveries", "get"): op(
        "Your webhook delivery log", tag="partner", auth="partner", parameters=[_LIMIT],
        ok=(200, "newest first", _DELIVERIES), errors=(400, 404, 422),
    ),
    (_ADMIN_HOOK, "put"): op(
        "Set a partner's completion webhook", tag="admin", auth="admin", body=_URL_BODY, description=_SET_DOC,
        ok=(201, "created, with its signing secret (shown once)", _WEBHOOK), errors=(400, 404, 422),
        extra_ok={200: {"description": "updated (no secret)", "content": {"application/json": {"schema": _WEBHOOK}}}},
    ),
    (_ADMIN_HOOK, "get"): op(
        "A partner's completion webhook", tag="admin", auth="admin", ok=(200, "never with the secret", _WEBHOOK),
        errors=(404,),
    ),
    (_ADMIN_HOOK, "delete"): op(
        "Remove a partner's completion webhook", tag="admin", auth="admin", ok=(204, "removed", None),
        errors=(404,),
    ),
    (f"{_ADMIN_HOOK}/deliveries", "get"): op(
        "A partner's webhook delivery log", tag="admin", auth="admin", parameters=[_LIMIT],
        ok=(200, "newest first", _DELIVERIES), errors=(400, 404, 422),
    ),
    ("/admin/webhooks", "get"): op(
        "Every partner's webhook", tag="admin", auth="admin",
        ok=(200, "by partner, disabled ones included", {"type": "object", "properties": {"webhooks": {"type": "array", "items": _WEBHOOK}}}),
        description="A webhook disabled after PARTNER_INGEST_WEBHOOK_DISABLE_AFTER_FAILURES failed attempts "
        "in a row shows enabled false, disabled_at and disabled_reason (also audited as webhook.disabled).",
    ),
}  # fmt: skip
