"""Diagnostics routes: every rejected item of an import, paged, summarized or downloaded, and
where one SKU stands, for the partner; the replay of an import's rejected items, for admins
(ADR 0033).

Another partner's import answers 404 like an unknown one. Downloads stream a page
per unit of work, so a feed of a million rejected items is served in bounded memory.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.report import ErrorCode
from partner_ingest.domain.use_cases.diagnostics import MAX_DIAGNOSTICS_PAGE, MAX_SUMMARY_EXAMPLES
from partner_ingest.domain.use_cases.paging import check_limit

from ._context import context, request_info
from .auth import authorize
from .body import read_json
from .diagnostic_views import csv_lines, jsonl_lines, page_json, sku_status_json, summary_json
from .errors import BadRequest
from .openapi import Operation, json_body, op, query
from .params import INT64_MAX, JsonFields, query_enum, query_int, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]

_MEDIA: Final = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_FORMATS: Final = ("json", "jsonl", "csv")


def _format(request: Request) -> str:
    """`?format=`, else what `Accept` asks for first among CSV and JSON Lines, else JSON."""
    asked = query_text(request, "format", max_length=20)
    if asked is not None:
        if asked not in _FORMATS:
            raise BadRequest(
                f"parameter format: must be one of {', '.join(_FORMATS)}",
                code="invalid_parameter",
                details={"parameter": "format"},
            )
        return asked
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == "text/csv":
            return "csv"
        if media in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
            return "jsonl"
    return "json"


async def _partner(request: Request) -> str:
    principal = await authorize(request, KeyRole.PARTNER)
    assert principal.partner_id is not None
    return principal.partner_id


async def list_errors(request: Request) -> Response:
    """A page of an import's errors (JSON), or all of them as a download (JSON Lines, CSV)."""
    partner_id = await _partner(request)
    feed_id = request.path_params["feed_id"]
    code = query_enum(request, "code", ErrorCode)
    shape = _format(request)
    # Read whatever the shape: a download ignores the page, but a bad page is still a 400.
    after = query_int(request, "after", 0)
    limit = check_limit(query_int(request, "limit", 100), MAX_DIAGNOSTICS_PAGE)
    read = context(request).app.diagnostics
    if shape == "json":
        page = await run_in_threadpool(read.page, partner_id, feed_id, code=code, after=after, limit=limit)
        return JsonResponse(page_json(page))
    every = await run_in_threadpool(read.all, partner_id, feed_id, code=code)
    lines = csv_lines(every) if shape == "csv" else jsonl_lines(every)
    extension = "csv" if shape == "csv" else "jsonl"
    return StreamingResponse(
        lines,
        media_type=_MEDIA[shape],
        headers={"Content-Disposition": f'attachment; filename="{_safe_name(feed_id)}-errors.{extension}"'},
    )


def _safe_name(feed_id: str) -> str:
    return "".join(c for c in feed_id if c.isalnum() or c in "-_")[:100] or "import"


async def errors_summary(request: Request) -> Response:
    """An import's errors grouped by code, with counts and the first few of each."""
    partner_id = await _partner(request)
    feed_id = request.path_params["feed_id"]
    examples = query_int(request, "examples", 3)
    summary = await run_in_threadpool(
        context(request).app.diagnostics.summary, partner_id, feed_id, examples=examples
    )
    return JsonResponse(summary_json(feed_id, summary))


async def sku_status(request: Request) -> Response:
    """The SKU's last accepted version and its last rejected one, with their imports."""
    partner_id = await _partner(request)
    status = await run_in_threadpool(
        context(request).app.diagnostics.sku_status, partner_id, request.path_params["sku"]
    )
    return JsonResponse(sku_status_json(status))


async def replay_import(request: Request) -> Response:
    """Re-run an import's open rejected items under the contract as it is now; audited."""
    principal = await authorize(request, KeyRole.ADMIN)
    fields = JsonFields(await read_json(request), ("version",))
    version = fields.integer("version")
    fields.done()
    result = await run_in_threadpool(
        context(request).app.replay,
        request.path_params["feed_id"],
        actor=principal.actor,
        client=request_info(request).client,
        version=version if isinstance(version, int) else None,
    )
    return JsonResponse(
        {
            "replayed_from": result.replayed_from,
            "replayed": result.replayed,
            "skipped_resolved": result.skipped_resolved,
            "skipped_truncated": result.skipped_truncated,
            "report": result.report.to_json(),
        }
    )


ROUTES: Final[list[BaseRoute]] = [
    Route("/partner/imports/{feed_id}/errors", list_errors, methods=["GET"], name="list_errors"),
    Route(
        "/partner/imports/{feed_id}/errors/summary", errors_summary, methods=["GET"], name="errors_summary"
    ),
    # Before /partner/products/{sku:path}, which would take ".../status" as part of a SKU.
    Route("/partner/products/{sku:path}/status", sku_status, methods=["GET"], name="sku_status"),
    Route("/admin/imports/{feed_id}/replay", replay_import, methods=["POST"], name="admin_replay_import"),
]

# --- OpenAPI -------------------------------------------------------------------------

_CODE: Final = query(
    "code", {"type": "string", "enum": [str(c) for c in ErrorCode]}, "only the errors of this code"
)


def _obj_version() -> dict[str, object]:
    return {
        "type": "object",
        "properties": {"version": {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}},
        "additionalProperties": False,
    }


def _download(operation: Operation) -> Operation:
    """The 200 answer also as CSV and JSON Lines."""
    content = operation["responses"]["200"]["content"]
    content["application/x-ndjson"] = {"schema": {"type": "string"}}
    content["text/csv"] = {"schema": {"type": "string"}}
    return operation


OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/partner/imports/{feed_id}/errors", "get"): _download(op(
        "Every rejected item of one of your imports: a page, or a download",
        tag="partner", auth="partner",
        description="Every error of every rejected item is kept (not only the report's first 100), with "
        "its location, the offending value (at most 200 characters) and the item as sent (at most 8192), "
        "for PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS. JSON: a page in feed order; pass next_after as "
        "`after` for the next one. `?format=jsonl` or `csv` (or `Accept: application/x-ndjson` or "
        "`text/csv`): every error at once, as a download; in CSV, a cell starting with = + - @ tab or "
        "CR is prefixed with ' so a spreadsheet never runs it. `resolved_by` names the later import that "
        "accepted the SKU. Another partner's feed id answers 404 like an unknown one. invalid_page: a "
        f"limit outside 1..{MAX_DIAGNOSTICS_PAGE} (a download too).",
        parameters=[
            _CODE,
            query("after", {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX},
                  "next_after of the previous page"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_DIAGNOSTICS_PAGE}),
            query("format", {"type": "string", "enum": list(_FORMATS)}),
        ],
        ok=(200, "a page of errors (JSON), or all of them (JSON Lines, CSV)", "DiagnosticPage"),
        errors=(400, 404, 422),
    )),
    ("/partner/imports/{feed_id}/errors/summary", "get"): op(
        "One of your imports' errors by code, with counts and examples", tag="partner", auth="partner",
        description=f"Most frequent code first; `examples` (1..{MAX_SUMMARY_EXAMPLES}, default 3) of each. "
        "invalid_page: examples out of bounds.",
        parameters=[
            query("examples", {"type": "integer", "minimum": 1, "maximum": MAX_SUMMARY_EXAMPLES})
        ],
        ok=(200, "the errors by code", "DiagnosticSummary"), errors=(400, 404, 422),
    ),
    ("/partner/products/{sku:path}/status", "get"): op(
        "Where one of your SKUs stands: its last accepted and last rejected version", tag="partner",
        auth="partner",
        description="`accepted`: the product as stored, and the import that wrote that version (an "
        "import that sent it unchanged, or retired it, does not replace it; null only for a product stored "
        "before imports were recorded on products and never rejected since); `rejected`: the errors of the "
        "latest import that rejected it, each saying whether a later import resolved it. 404 when neither "
        "exists.",
        ok=(200, "the SKU's status", "SkuStatus"), errors=(404,),
    ),
    ("/admin/imports/{feed_id}/replay", "post"): op(
        "Re-run an import's rejected items under the contract as it is now", tag="admin", auth="admin",
        description="After a contract change: the import's rejected items that no later import resolved "
        "are read back as they were sent and ingested as a new import of the same partner (source "
        "replay), under `version` (default: the import's). Items accepted now land and resolve their "
        "diagnostics. Items kept only in part (raw_truncated) are left out. Audited as import.replayed. "
        "409 nothing_to_replay when no item is left; 404 for an unknown import.",
        body=json_body(_obj_version(), "optional: the contract version to replay under", required=False),
        ok=(200, "what was replayed and the new import's report", "ReplayResult"), errors=(404, 409, 422),
    ),
}  # fmt: skip
