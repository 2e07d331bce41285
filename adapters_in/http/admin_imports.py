"""Admin routes of the snapshots the mass-delete guard held (ADR 0036).

List the held imports, release one (it is applied: the answer is the release's
report) or discard it. Each settles a held import once: another answer is 409
conflict. Both are audited with the admin as the actor (feed.released,
feed.discarded), like every admin route behind an admin key.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole

from ._context import context, request_info
from .auth import authorize
from .openapi import Operation, op
from .params import query_text
from .views import JsonResponse, feed_import_json

__all__ = ["OPERATIONS", "ROUTES"]


async def list_held(request: Request) -> Response:
    """The held imports, oldest first."""
    await authorize(request, KeyRole.ADMIN)
    held = await run_in_threadpool(context(request).app.held_feeds.held, query_text(request, "partner_id"))
    return JsonResponse({"imports": [feed_import_json(entry) for entry in held]})


async def release_held(request: Request) -> Response:
    """Apply a held snapshot; the release's report."""
    principal = await authorize(request, KeyRole.ADMIN)
    report = await run_in_threadpool(
        context(request).app.held_feeds.release,
        request.path_params["feed_id"],
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse(report.to_json())


async def discard_held(request: Request) -> Response:
    """Forget a held snapshot; the import, discarded."""
    principal = await authorize(request, KeyRole.ADMIN)
    entry = await run_in_threadpool(
        context(request).app.held_feeds.discard,
        request.path_params["feed_id"],
        actor=principal.actor,
        client=request_info(request).client,
    )
    return JsonResponse(feed_import_json(entry))


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/imports/held", list_held, methods=["GET"], name="admin_list_held"),
    Route("/admin/imports/{feed_id}/release", release_held, methods=["POST"], name="admin_release_held"),
    Route("/admin/imports/{feed_id}/discard", discard_held, methods=["POST"], name="admin_discard_held"),
]

_SETTLED: Final = (
    "409 conflict when the import is not held: it was released or discarded already (by another "
    "operator, say), or was never held."
)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/imports/held", "get"): op(
        "List held snapshots", tag="admin", auth="admin",
        parameters=[{"name": "partner_id", "in": "query", "schema": {"type": "string"}}],
        description="Snapshots the mass-delete guard held (they would retire more of the partner's "
        "active products than PARTNER_INGEST_RETIRE_MAX_SHARE or _MAX_COUNT allow), oldest first; each "
        "report's counts say what it would create, update and retire.",
        ok=(200, "the held imports", "FeedImportList"), errors=(400,),
    ),
    ("/admin/imports/{feed_id}/release", "post"): op(
        "Release a held snapshot", tag="admin", auth="admin",
        description="Applies exactly what was held, now: the held feed's items as an upsert, then "
        "exactly the SKUs it would have retired when it was held (a product created since is not "
        "retired; one changed since that the snapshot names takes the snapshot's values). The answer is "
        "the report of the release, a new import; the held one becomes released. Audited as "
        "feed.released. " + _SETTLED,
        ok=(200, "the release's report", "IngestReport"), errors=(404, 409),
    ),
    ("/admin/imports/{feed_id}/discard", "post"): op(
        "Discard a held snapshot", tag="admin", auth="admin",
        description="Nothing of it is ever applied; the import becomes discarded. Audited as "
        "feed.discarded. " + _SETTLED,
        ok=(200, "the import, discarded", "FeedImport"), errors=(404, 409),
    ),
}  # fmt: skip
