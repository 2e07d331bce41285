"""Partner routes: send a feed, read back its report, and browse one's own products (ADR 0006).

Every route here needs a partner key and acts as that key's partner only: a
partner asking for another partner's feed gets the same 404 as for a feed
that does not exist.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases.read_imports import MAX_IMPORTS_PAGE, MAX_PRODUCTS_PAGE

from ._context import context
from ._feed import answer_feed
from .auth import authorize
from .jobs import ASYNC_PARAMETERS, JOB_ACCEPTED
from .openapi import Operation, op, query
from .params import query_instant, query_int, query_retired, query_text
from .views import JsonResponse, feed_import_json, product_json

__all__ = ["OPERATIONS", "ROUTES"]


async def ingest(request: Request) -> Response:
    """Ingest a feed now and answer its report."""
    return await answer_feed(request, dry_run=False)


async def list_imports(request: Request) -> Response:
    """The partner's latest feed imports."""
    principal = await authorize(request, KeyRole.PARTNER)
    limit = query_int(request, "limit", 20)
    assert principal.partner_id is not None
    found = await run_in_threadpool(context(request).app.imports.recent, principal.partner_id, limit=limit)
    return JsonResponse({"imports": [feed_import_json(entry) for entry in found]})


async def get_import(request: Request) -> Response:
    """One of the partner's feed imports, with its report."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    feed_id = request.path_params["feed_id"]
    found = await run_in_threadpool(context(request).app.imports.get, principal.partner_id, feed_id)
    return JsonResponse(feed_import_json(found))


async def list_products(request: Request) -> Response:
    """A page of the partner's products, in SKU order."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    after = query_text(request, "after", max_length=MAX_SKU_CURSOR)
    limit = query_int(request, "limit", 100)
    retired = query_retired(request)
    at = query_instant(request)
    page = await run_in_threadpool(
        context(request).app.products.page,
        principal.partner_id,
        after_sku=after,
        limit=limit,
        retired=retired,
        updated_since=query_instant(request, "updated_since"),
    )
    return JsonResponse(
        {"products": [product_json(p, at) for p in page.products], "next_after": page.next_after}
    )


async def get_product(request: Request) -> Response:
    """One of the partner's products."""
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    # Both parameters are read before the lookup: a bad one is a 400, found or not.
    retired, at = query_retired(request), query_instant(request)
    product = await run_in_threadpool(
        context(request).app.products.get, principal.partner_id, request.path_params["sku"], retired=retired
    )
    return JsonResponse(product_json(product, at))


ROUTES: Final[list[BaseRoute]] = [
    Route("/partner/ingest", ingest, methods=["POST"], name="ingest"),
    Route("/partner/imports", list_imports, methods=["GET"], name="list_imports"),
    Route("/partner/imports/{feed_id}", get_import, methods=["GET"], name="get_import"),
    Route("/partner/products", list_products, methods=["GET"], name="list_products"),
    Route("/partner/products/{sku:path}", get_product, methods=["GET"], name="get_product"),
]

# --- OpenAPI -------------------------------------------------------------------------

FEED_PARAMETERS: Final = [
    {
        "name": "X-Feed-Version",
        "in": "header",
        "schema": {"type": "integer", "minimum": 1},
        "description": "contract version of the feed; default: the partner's (400 lists the available ones)",
    },
    {
        "name": "X-Validation-Mode",
        "in": "header",
        "schema": {"type": "string", "enum": ["strict", "lenient"]},
        "description": "override the partner's mode for this feed (403 policy_override_denied unless allowed)",
    },
    {
        "name": "X-Feed-Mode",
        "in": "header",
        "schema": {"type": "string", "enum": ["upsert", "snapshot", "patch"]},
        "description": "upsert: each item replaces its product, others are untouched; snapshot: the feed is "
        "your whole catalog, products it does not name are retired (held for an operator when that is more "
        "than the mass-delete guard allows); patch: only the fields an item names change, null clears one, "
        "the SKU must exist. Default: your account's feed_mode. In every mode an item with "
        '"_delete": true retires its SKU.',
    },
    {
        "name": "X-Atomic",
        "in": "header",
        "schema": {"type": "boolean"},
        "description": "true: one invalid item rejects the whole feed (an override like X-Validation-Mode)",
    },
    {
        "name": "Content-Encoding",
        "in": "header",
        # Every value `body.py` reads, so the document says what the server accepts: an empty
        # field is an empty list of codings (RFC 9110 5.6.1), the body as sent.
        "schema": {"type": "string", "enum": ["gzip", "x-gzip", "identity", ""]},
        "description": "gzip bodies are accepted; the size cap applies after decompression; "
        "the coding's case does not matter, and an empty value is identity",
    },
]
FEED_BODY: Final = {
    "required": True,
    "description": "the feed document in the format its Content-Type names (see GET /partner/contract); "
    "no Content-Type or application/octet-stream: the partner's default format",
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("application/json", "application/x-ndjson", "text/csv", "application/xml")
    },
}
_REPORT_OK: Final = (
    200,
    "the report: counts and every rejected item (status accepted or partial)",
    "IngestReport",
)
_REJECTED: Final = {
    422: {
        "description": "feed_rejected: nothing was accepted; the report (status rejected) with error and "
        "details. Or idempotency_key_reused: the key was first used for a different request.",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/RejectedFeed"},
                        {"$ref": "#/components/schemas/Error"},
                    ]
                }
            }
        },
    }
}
MAX_SKU_CURSOR: Final = 1024


def _limit(maximum: int) -> dict[str, object]:
    return query("limit", {"type": "integer", "minimum": 1, "maximum": maximum})


_AT: Final = query(
    "at",
    {"type": "string", "format": "date-time", "minLength": 1},
    "an instant (RFC 3339, with offset): adds effective_price, the sale price inside its window, "
    "else the price (ADR 0016)",
)
_UPDATED_SINCE: Final = query(
    "updated_since",
    {"type": "string", "format": "date-time", "minLength": 1},
    "an instant (RFC 3339, with offset): only products written (created, updated, retired or "
    "restored) at or after it; to follow every change, GET /partner/changes is cheaper",
)
_RETIRED: Final = query(
    "retired", {"type": "boolean", "default": False}, "true: retired products instead of active ones"
)

PRODUCT_READ_PARAMETERS: Final = (_RETIRED, _AT)
"""The query parameters of every product read (a partner's own, an admin's of any partner)."""

_JOB_OR_HELD: Final = {
    202: {
        **JOB_ACCEPTED[202],
        "description": "stored as a job (committed before this answer; poll Location for its report), or "
        "a snapshot held by the mass-delete guard: its report, status held, counts saying what it would "
        "create, update and retire; nothing is applied until an operator releases it",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/Job"},
                        {"$ref": "#/components/schemas/IngestReport"},
                    ]
                }
            }
        },
    }
}

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/partner/ingest", "post"): op(
        "Send a feed and get its report (or, as a job, its job)",
        tag="partner",
        auth="partner",
        description="Synchronous: the answer is the report. Feeds over max_sync_bytes answer 413 "
        "feed_too_large_for_sync: send them as jobs. Content-Location names the stored import.\n\n"
        "As a job (`Prefer: respond-async` or `?mode=async`): the feed, up to max_body_bytes, is stored "
        "durably and answered 202 with the job and `Location: /partner/jobs/{job_id}`; poll that URL for "
        "the report.\n\n"
        "Sent again: the same content under the same terms (format, X-Feed-Version, X-Validation-Mode, "
        "X-Atomic) as your latest applied feed is answered with its report and not applied twice; under "
        "other terms it is processed under those. An Idempotency-Key names one request, sent now or as a "
        "job (one key space): repeated with the same request it answers what the first got (its report, "
        "or its job: 409 idempotency_key_names_job while the job has no report yet); with anything "
        "different, 422 idempotency_key_reused, `details.differs` naming what (body, format, version, "
        "validation_mode, atomic).\n\n"
        "A contract version that is deprecated is still accepted until its sunset, answered with "
        "`Deprecation: @<epoch>` (RFC 9745), `Sunset: <HTTP-date>` (RFC 8594) and a `warnings` entry in "
        "the report; from the sunset on it answers 400 contract_version_retired with "
        "`details.supported_versions` (GET /partner/contract shows each version's lifecycle).",
        parameters=[
            *FEED_PARAMETERS,
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 255}},
            *ASYNC_PARAMETERS,
        ],
        body=FEED_BODY,
        ok=_REPORT_OK,
        extra_ok={**_REJECTED, **_JOB_OR_HELD},
        errors=(409,),
        links={"get_import": {"feed_id": "$response.body#/feed_id"}},
    ),
    ("/partner/imports", "get"): op(
        "Your latest feed imports", tag="partner", auth="partner",
        parameters=[_limit(MAX_IMPORTS_PAGE)],
        ok=(200, "most recent first", "FeedImportList"), errors=(400, 422),
        links={"get_import": {"feed_id": "$response.body#/imports/0/feed_id"}},
    ),
    ("/partner/imports/{feed_id}", "get"): op(
        "One of your feed imports and its report", tag="partner", auth="partner",
        ok=(200, "the import", "FeedImport"), errors=(404,),
        description="Another partner's feed id answers 404, exactly like an unknown one.",
    ),
    ("/partner/products", "get"): op(
        "Your products, a page at a time, in SKU order", tag="partner", auth="partner",
        parameters=[
            query("after", {"type": "string", "maxLength": MAX_SKU_CURSOR}, "the last SKU of the previous page"),
            _limit(MAX_PRODUCTS_PAGE),
            _RETIRED,
            _AT,
            _UPDATED_SINCE,
        ],
        description="Active products; `retired=true`: the retired ones (a snapshot left them out, or an "
        "item deleted them), until a feed names them again or the retention purges them.",
        ok=(200, "a page; pass next_after as `after` for the next one", "ProductPage"), errors=(400, 422),
        links={"get_product": {"sku": "$response.body#/products/0/sku"}},
    ),
    ("/partner/products/{sku:path}", "get"): op(
        "One of your products", tag="partner", auth="partner", parameters=[_RETIRED, _AT],
        description="An active product; `retired=true`: a retired one.",
        ok=(200, "the product", "Product"), errors=(400, 404),
    ),
}  # fmt: skip
