"""Contract routes (I1, I2, U1; ADR 0010, 0011, 0013): the contract, examples, a dry run, the quickstart.

The contract, the examples and the quickstart are public: a partner can read
them before it has a key. The dry run needs a partner key, because it runs the
real `IngestFeed` with `dry_run=True` against the partner's stored catalog (so
its counts say what an ingest would create, update or leave unchanged) and
under the partner's own policy, then rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.rules import CONTRACTS

from ._context import base_url, context
from ._feed import answer_feed
from .auth import authorize
from .errors import BadRequest
from .help import markdown, quickstart
from .ingest import FEED_BODY, FEED_PARAMETERS
from .openapi import Operation, op, query, ref
from .params import INT64_MAX, query_datetime, query_optional_int, query_text
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES", "describe_example_media"]

_PUBLIC: Final = {"Cache-Control": "public, max-age=300"}
_MAX_FORMAT: Final = 32
_EXAMPLES: Final = ("/partner/contract/example", "get")


async def get_contract(request: Request) -> Response:
    """The machine-readable contract."""
    document = await run_in_threadpool(context(request).app.describe_contract)
    # Rendered in a thread too: the schemas of every format and version are a large document.
    return await run_in_threadpool(JsonResponse, document, headers=_PUBLIC)


async def get_examples(request: Request) -> Response:
    """Every example; with `format` and `version`, that example's document itself (for `curl -o`)."""
    wanted_format = query_text(request, "format", max_length=_MAX_FORMAT)
    wanted_version = query_optional_int(request, "version")
    examples = await run_in_threadpool(context(request).app.describe_contract.examples)
    chosen = [
        e
        for e in examples
        if (wanted_format is None or e["format"] == wanted_format)
        and (wanted_version is None or e["version"] == wanted_version)
    ]
    if not chosen:
        raise NotFoundError("example", f"{wanted_format or '*'} v{wanted_version or '*'}")
    if wanted_format is not None and wanted_version is not None:
        example = chosen[0]
        return Response(example["body"].encode("utf-8"), media_type=example["media_type"], headers=_PUBLIC)
    return JsonResponse({"examples": chosen}, headers=_PUBLIC)


_OLDEST: Final = min(CONTRACTS)
_NEWEST: Final = max(CONTRACTS)


def _version_schema() -> dict[str, object]:
    """The contract versions a diff reads: bounds, and their list should one ever be skipped."""
    schema: dict[str, object] = {"type": "integer", "minimum": _OLDEST, "maximum": _NEWEST}
    if set(CONTRACTS) != set(range(_OLDEST, _NEWEST + 1)):
        schema["enum"] = sorted(CONTRACTS)
    return schema


def _version(request: Request, name: str) -> int | None:
    """A contract version (None when absent); a version the contract never had is a bad
    parameter, as the document declares the versions, and the answer lists them."""
    version = query_optional_int(request, name)
    if version is not None and version not in CONTRACTS:
        available = sorted(CONTRACTS)
        raise BadRequest(
            f"parameter {name}: contract versions are {', '.join(map(str, available))}, got {version}",
            code="invalid_parameter",
            details={"parameter": name, "available": available},
        )
    return version


async def get_contract_diff(request: Request) -> Response:
    """What changes between two contract versions (`from`, `to`), machine-readable."""
    old, new = _version(request, "from"), _version(request, "to")
    diff = await run_in_threadpool(context(request).app.describe_contract.diff, old, new)
    return JsonResponse(diff, headers=_PUBLIC)


async def get_contract_usage(request: Request) -> Response:
    """Admins: per contract version, its status and the partners still sending it (`?since=`)."""
    await authorize(request, KeyRole.ADMIN)
    since = query_datetime(request, "since")
    versions = await run_in_threadpool(context(request).app.contract_usage, since)
    return JsonResponse({"versions": versions})


async def validate(request: Request) -> Response:
    """A dry run of an ingest: the report, nothing written."""
    return await answer_feed(request, dry_run=True)


async def get_help(request: Request) -> Response:
    """The quickstart, as JSON or (Accept: text/markdown) Markdown."""
    examples = await run_in_threadpool(context(request).app.describe_contract.examples)
    document = quickstart(base_url(request), examples)
    if "text/markdown" in request.headers.get("accept", ""):
        return PlainTextResponse(markdown(document), media_type="text/markdown", headers=_PUBLIC)
    return JsonResponse(document, headers=_PUBLIC)


ROUTES: Final[list[BaseRoute]] = [
    Route("/partner/contract", get_contract, methods=["GET"], name="contract"),
    Route("/partner/contract/example", get_examples, methods=["GET"], name="contract_examples"),
    Route("/partner/contract/diff", get_contract_diff, methods=["GET"], name="contract_diff"),
    Route("/partner/validate", validate, methods=["POST"], name="validate"),
    Route("/admin/contract/usage", get_contract_usage, methods=["GET"], name="contract_usage"),
    Route("/partner/help", get_help, methods=["GET"], name="help"),
]

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/partner/contract", "get"): op(
        "The feed contract",
        tag="contract",
        description="contract_version, versions, formats with their Content-Types, the JSON Schema (2020-12) "
        "of an item per version, rules beyond the schema, and every item error code.",
        ok=(200, "the contract", "Contract"),
    ),
    ("/partner/contract/diff", "get"): op(
        "What changes between two contract versions",
        tag="contract",
        parameters=[
            query("from", _version_schema(), "default: the oldest version"),
            query("to", _version_schema(), "default: the newest version"),
        ],
        description="Machine-readable, from the JSON Schema of each version: fields added (with their "
        "schema and whether required), removed, and changed keyword by keyword (type, bounds, pattern, "
        "enum, required, ...; members of object fields by their path), and the rules beyond the schema "
        "added or removed. 400 invalid_parameter for a version that does not exist.",
        ok=(
            200,
            "the difference",
            {
                "type": "object",
                "required": ["from", "to", "fields", "rules"],
                "properties": {
                    "from": {"type": "integer"},
                    "to": {"type": "integer"},
                    "fields": {
                        "type": "object",
                        "properties": {
                            "added": {"type": "array", "items": {"type": "object"}},
                            "removed": {"type": "array", "items": {"type": "object"}},
                            "changed": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "field": {"type": "string"},
                                        "keyword": {"type": "string"},
                                        "from": {},
                                        "to": {},
                                    },
                                },
                            },
                        },
                    },
                    "rules": {
                        "type": "object",
                        "properties": {
                            "added": {"type": "array", "items": {"type": "string"}},
                            "removed": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        ),
        errors=(400,),
    ),
    ("/admin/contract/usage", "get"): op(
        "Which partners still send each contract version",
        tag="admin",
        auth="admin",
        parameters=[query("since", {"type": "string", "format": "date-time"})],
        description="From the ledger: every contract version with its status now (current, deprecated with "
        "its sunset, retired) and, per partner, the imports under it (completed since `since`, default: all) "
        "and the last one's time. Plan a sunset with it: these are the partners a retirement would refuse.",
        ok=(
            200,
            "by version",
            {
                "type": "object",
                "required": ["versions"],
                "properties": {
                    "versions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["version", "status", "partners", "imports"],
                            "properties": {
                                "version": {"type": "integer"},
                                "status": {"type": "string", "enum": ["current", "deprecated", "retired"]},
                                "sunset": {"type": ["string", "null"], "format": "date-time"},
                                "imports": {"type": "integer"},
                                "partners": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "partner_id": {"type": "string"},
                                            "imports": {"type": "integer"},
                                            "last_import_at": {"type": "string", "format": "date-time"},
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        ),
        errors=(400,),
    ),
    ("/partner/contract/example", "get"): op(
        "Example feeds that validate",
        tag="contract",
        description="One example per format and version. With both `format` and `version`, the answer is that "
        "example's document itself, with its Content-Type, ready for `curl -o` (the media types listed "
        "beside application/json; for the json format, the feed document in application/json).",
        parameters=[
            query(
                "format",
                {"type": "string", "maxLength": _MAX_FORMAT},
                "json, csv, ... (see /partner/contract)",
            ),
            query("version", {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}),
        ],
        ok=(200, "the examples (or one example document)", "Examples"),
        errors=(400, 404),
    ),
    ("/partner/validate", "post"): op(
        "Dry run: the report of a feed, nothing stored",
        tag="contract",
        auth="partner",
        description="Runs the real ingest with dry_run=true for the calling partner: same formats, rules and "
        "policy, counts compared with the partner's stored products (created/updated/unchanged), then "
        "rolled back; no ledger entry, no audit entry, no Idempotency-Key. Answers like POST /partner/ingest "
        "would (200, or 422 when nothing would be accepted). For a check with no account at all, run "
        "`partner-ingest validate` locally.",
        parameters=FEED_PARAMETERS,
        body=FEED_BODY,
        ok=(200, "the report (dry_run: true)", "IngestReport"),
        extra_ok={
            422: {
                "description": "feed_rejected: nothing would be accepted; the report with error and details",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RejectedFeed"}}},
            }
        },
        errors=(400, 413, 415),
    ),
    ("/partner/help", "get"): op(
        "Quickstart: copy-paste commands from zero to a stored feed",
        tag="contract",
        description="JSON by default (steps with shell commands using $PARTNER_INGEST_URL and $API_KEY); "
        "Markdown with Accept: text/markdown.",
        ok=(200, "the quickstart", "Help"),
    ),
}
OPERATIONS[("/partner/help", "get")]["responses"]["200"]["content"]["text/markdown"] = {
    "schema": {"type": "string"}
}


def describe_example_media(
    operations: Mapping[tuple[str, str], Operation], media_types: Iterable[str]
) -> None:
    """Declare, on the examples operation of an app's (copied) operations, the media type of
    every example its formats serve as a document of its own (each format's first media type):
    known only once plugins load."""
    content = operations[_EXAMPLES]["responses"]["200"]["content"]
    for media in media_types:
        if media == "application/json":
            content[media] = {"schema": {"anyOf": [ref("schemas", "Examples"), ref("schemas", "JsonFeed")]}}
        else:
            content.setdefault(media, {"schema": {"type": "string"}})
