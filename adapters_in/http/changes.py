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
from partner_ingest.domain.use_cases.read_changes import MAX_CHANGES_PAGE, MAX_WAIT_SECONDS, ChangePage

from ._context import context
from .auth import authorize
from .openapi import Operation, op, query
from .params import MAX_PARTNER_ID, query_int, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]


def _page_json(page: ChangePage) -> dict[str, Any]:
    return {"changes": [change.to_json() for change in page.changes], "next_after": page.next_after}


_MAX_CURSOR: Final = 64
_MAX_WAIT: Final = int(MAX_WAIT_SECONDS)


def _wait(request: Request) -> float:
    # Refused past its maximum like any bound the document declares (a clamp would hide it).
    return float(query_int(request, "wait", 0, maximum=_MAX_WAIT))


async def admin_changes(request: Request) -> Response:
    """Every partner's changes, or one partner's (`partner`)."""
    await authorize(request, KeyRole.ADMIN)
    page = await run_in_threadpool(
        context(request).app.changes,
        query_text(request, "after", max_length=_MAX_CURSOR),
        limit=query_int(request, "limit", 100),
        partner_id=query_text(request, "partner", max_length=MAX_PARTNER_ID),
        wait=_wait(request),
    )
    return JsonResponse(_page_json(page))


async def partner_changes(request: Request) -> Response:
    """The calling partner's changes."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    page = await run_in_threadpool(
        context(request).app.changes,
        query_text(request, "after", max_length=_MAX_CURSOR),
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
    query(
        "after",
        {"type": "string", "maxLength": _MAX_CURSOR},
        "next_after of the previous page; absent: from the oldest change kept",
    ),
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_CHANGES_PAGE}),
    query(
        "wait",
        {"type": "integer", "minimum": 0, "maximum": _MAX_WAIT},
        "seconds to hold an empty answer until a change arrives (long polling)",
    ),
]
_DESCRIPTION: Final = (
    "Every product created, updated, retired or restored, once, in commit order (concurrent writers "
    "included): keep next_after and ask again. A cursor the store never gave answers 422 invalid_cursor."
)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/changes", "get"): op(
        "Follow every partner's product changes", tag="admin", auth="admin",
        parameters=[*_PARAMETERS, query("partner", {"type": "string", "maxLength": MAX_PARTNER_ID})],
        description=_DESCRIPTION, ok=(200, "a page of changes", "ChangePage"), errors=(400, 422),
    ),
    ("/partner/changes", "get"): op(
        "Follow your product changes", tag="partner", auth="partner", parameters=_PARAMETERS,
        description=_DESCRIPTION, ok=(200, "a page of changes", "ChangePage"), errors=(400, 422),
    ),
}  # fmt: skip
