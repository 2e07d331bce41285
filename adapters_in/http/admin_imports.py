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
from partner_ingest.domain.use_cases.read_imports import MAX_PRODUCTS_PAGE

from ._context import context, request_info
from .auth import authorize
from .ingest import MAX_SKU_CURSOR, PRODUCT_READ_PARAMETERS
from .openapi import Operation, op, query
from .params import MAX_PARTNER_ID, query_instant, query_int, query_retired, query_text
from .views import JsonResponse, feed_import_json, product_json

__all__ = ["OPERATIONS", "ROUTES"]


async def list_held(request: Request) -> Response:
    """The held imports, oldest first."""
    await authorize(request, KeyRole.ADMIN)
    held = await run_in_threadpool(
        context(request).app.held_feeds.held, query_text(request, "partner_id", max_length=MAX_PARTNER_ID)
    )
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


async def partner_products(request: Request) -> Response:
    """Any partner's products, a page at a time (the platform's reads); `retired`, `at` as for partners."""
    await authorize(request, KeyRole.ADMIN)
    # Every parameter is read before any lookup: a bad one is a 400 whatever the store holds.
    after = query_text(request, "after", max_length=MAX_SKU_CURSOR)
    limit = query_int(request, "limit", 100)
    retired = query_retired(request)
    at = query_instant(request)
    updated_since = query_instant(request, "updated_since")
    await run_in_threadpool(context(request).app.partners.get, request.path_params["partner_id"])  # 404
    page = await run_in_threadpool(
        context(request).app.products.page,
        request.path_params["partner_id"],
        after_sku=after,
        limit=limit,
        retired=retired,
        updated_since=updated_since,
    )
    return JsonResponse(
        {"products": [product_json(p, at) for p in page.products], "next_after": page.next_after}
    )


async def partner_product(request: Request) -> Response:
    """One product of any partner."""
    await authorize(request, KeyRole.ADMIN)
    retired, at = query_retired(request), query_instant(request)
    await run_in_threadpool(context(request).app.partners.get, request.path_params["partner_id"])  # 404
    product = await run_in_threadpool(
        context(request).app.products.get,
        request.path_params["partner_id"],
        request.path_params["sku"],
        retired=retired,
    )
    return JsonResponse(product_json(product, at))


ROUTES: Final[list[BaseRoute]] = [
    Route("/admin/partners/{partner_id}/products", partner_products, methods=["GET"], name="admin_products"),
    Route(
        "/admin/partners/{partner_id}/products/{sku:path}",
        partner_product,
        methods=["GET"],
        name="admin_product",
    ),
    Route("/admin/imports/held", list_held, methods=["GET"], name="admin_list_held"),
    Route("/admin/imports/{feed_id}/release", release_held, methods=["POST"], name="admin_release_held"),
    Route("/admin/imports/{feed_id}/discard", discard_held, methods=["POST"], name="admin_discard_held"),
]

_SETTLED: Final = (
    "409 conflict when the import is not held: it was released or discarded already (by another "
    "operator, say), or was never held."
)

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/admin/partners/{partner_id}/products", "get"): op(
        "Any partner's products, a page at a time", tag="admin", auth="admin",
        parameters=[query("after", {"type": "string", "maxLength": MAX_SKU_CURSOR},
                          "the last SKU of the previous page"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PRODUCTS_PAGE}),
                    *PRODUCT_READ_PARAMETERS,
                    query("updated_since", {"type": "string", "format": "date-time", "minLength": 1},
                          "an instant (RFC 3339, with offset): only products written at or after it")],
        description="In SKU order; pass next_after as `after`. What changed since a moment: follow "
        "GET /admin/changes?partner= instead of rescanning.",
        ok=(200, "a page", "ProductPage"), errors=(400, 404, 422),
    ),
    ("/admin/partners/{partner_id}/products/{sku:path}", "get"): op(
        "One product of any partner", tag="admin", auth="admin", parameters=PRODUCT_READ_PARAMETERS,
        ok=(200, "the product", "Product"), errors=(400, 404),
    ),
    ("/admin/imports/held", "get"): op(
        "List held snapshots", tag="admin", auth="admin",
        parameters=[query("partner_id", {"type": "string", "maxLength": MAX_PARTNER_ID})],
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
