"""The change feed over HTTP (ADR 0037): `GET /admin/changes` (every partner) and `GET /partner/changes`.

Both page by cursor: `after` is the `next_after` of the previous page (absent: from
the oldest change kept); `wait` (seconds, at most 30) holds an empty answer until
a change arrives. Every committed change is answered once, in commit order.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases.read_changes import MAX_WAIT_SECONDS, ChangePage

from ._context import context
from .auth import authorize
from .openapi import Operation, op
from .params import query_int, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]


def _page_json(page: ChangePage) -> dict[str, Any]:
    return {"changes": [change.to_json() for change in page.changes], "next_after": page.next_after}


def _wait(request: Request) -> float:
    return float(min(query_int(request, "wait", 0), int(MAX_WAIT_SECONDS)))


async def admin_changes(request: Request) -> Response:
    """Every partner's changes, or one partner's (`partner`)."""
    await authorize(request, KeyRole.ADMIN)
    page = await run_in_threadpool(
        context(request).app.changes,
        query_text(request, "after", max_length=64),
        limit=query_int(request, "limit", 100),
        partner_id=query_text(request, "partner"),
        wait=_wait(request),
    )
    return JsonResponse(_page_json(page))


async def partner_changes(request: Request) -> Response:
    """The calling partner's changes."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    page = await run_in_threadpool(
        context(request).app.changes,
        query_text(request, "after", max_length=64),
        limit=query_int(request, "limit", 100),
        partner_id=principal.partner_id,
        wait=_wait(request),
    )
    return JsonResponse(_page_json(page))


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/changes", admin_changes, methods=["GET"], name="admin_changes"),
    Route("/partner/changes", partner_changes, methods=["GET"], name="partner_changes"),
]

_PARAMETERS: Final = [
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "string", "maxLength": 64},
        "description": "next_after of the previous page; absent: from the oldest change kept",
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {
        "name": "wait",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": 30},
        "description": "seconds to hold an empty answer until a change arrives (long polling)",
    },
]
_DESCRIPTION: Final = (
    "Every product created, updated, retired or restored, once, in commit order (concurrent writers "
    "included): keep next_after and ask again. A cursor the store never gave answers 400 invalid_cursor."
)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/changes", "get"): op(
        "Follow every partner's product changes", tag="admin", auth="admin",
        parameters=[*_PARAMETERS, {"name": "partner", "in": "query", "schema": {"type": "string"}}],
        description=_DESCRIPTION, ok=(200, "a page of changes", "ChangePage"), errors=(400, 422),
    ),
    ("/partner/changes", "get"): op(
        "Follow your product changes", tag="partner", auth="partner", parameters=_PARAMETERS,
        description=_DESCRIPTION, ok=(200, "a page of changes", "ChangePage"), errors=(400, 422),
    ),
}  # fmt: skip
