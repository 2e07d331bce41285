"""The OpenAPI 3.1 document at /openapi.json: built from the operations each route module declares.

Each route module keeps its operations next to its endpoints (`OPERATIONS`,
keyed by path and method); this module holds what they share (schemas, error
responses, headers, security schemes) and assembles the document. A test
walks every route of the app and fails when one is missing here, or here and
not in the app.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ._schemas import COMPONENTS

__all__ = [
    "ERROR_RESPONSES",
    "Operation",
    "document",
    "json_body",
    "link",
    "op",
    "openapi_path",
    "query",
    "query_names",
    "ref",
]

Operation = dict[str, Any]


def ref(kind: str, name: str) -> dict[str, str]:
    """A `$ref` to a component."""
    return {"$ref": f"#/components/{kind}/{name}"}


def json_body(
    schema: Mapping[str, Any] | str, description: str = "", *, required: bool = True
) -> dict[str, Any]:
    """A JSON request body (`schema` may name a component schema)."""
    resolved = ref("schemas", schema) if isinstance(schema, str) else dict(schema)
    return {
        "required": required,
        "description": description,
        "content": {"application/json": {"schema": resolved}},
    }


def link(targets: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """OpenAPI links from an answer: operation id (a route name) -> {parameter: runtime expression}.
    They say which value of an answer the next request takes (clients and the API fuzzer's
    stateful phase follow them)."""
    return {
        f"to_{operation_id}": {"operationId": operation_id, "parameters": dict(parameters)}
        for operation_id, parameters in targets.items()
    }


def query(name: str, schema: Mapping[str, Any], description: str = "") -> dict[str, Any]:
    """A query parameter; `schema` declares every bound the server enforces on it. An empty
    value is refused like any other bad one (params.py), so a string is at least 1 character."""
    declared = dict(schema)
    if declared.get("type") == "string" and "enum" not in declared and "format" not in declared:
        declared.setdefault("minLength", 1)
    parameter: dict[str, Any] = {"name": name, "in": "query", "schema": declared}
    if description:
        parameter["description"] = description
    return parameter


def query_names(operation: Mapping[str, Any]) -> frozenset[str]:
    """The query parameters an operation declares: the only ones it accepts."""
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query")


ERROR_RESPONSES: Final = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "BodyTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "Unavailable",
}


def op(
    summary: str,
    *,
    tag: str,
    ok: tuple[int, str, Mapping[str, Any] | str | None],
    auth: str | None = None,
    description: str = "",
    parameters: Sequence[Mapping[str, Any]] = (),
    body: Mapping[str, Any] | None = None,
    errors: Iterable[int] = (),
    extra_ok: Mapping[int, Mapping[str, Any]] | None = None,
    links: Mapping[str, Mapping[str, str]] | None = None,
) -> Operation:
    """One operation. `ok` is (status, description, schema name or inline schema or None);
    `auth` is `partner`, `admin` or None (public); `links` (see `link`) leave the success answer. Every operation may answer 400 (an unknown
    or malformed query parameter), 405 and 500;
    one with a request body 400, 413 and 415 (the body is read before its fields are);
    an authenticated one 401, 403 and 429, and 503 (authentication reads the database)."""
    status, ok_description, schema = ok
    success: dict[str, Any] = {
        "description": ok_description,
        "headers": {"X-Request-ID": ref("headers", "X-Request-ID")},
    }
    if schema is not None:
        resolved = ref("schemas", schema) if isinstance(schema, str) else dict(schema)
        success["content"] = {"application/json": {"schema": resolved}}
    if links:
        success["links"] = link(links)
    if auth is not None:
        success["headers"].update(
            RateLimit=ref("headers", "RateLimit"), **{"RateLimit-Policy": ref("headers", "RateLimit-Policy")}
        )
    codes = set(errors) | {400, 405, 500}
    if body is not None:
        codes |= {400, 413, 415}
    if auth is not None:
        codes |= {401, 403, 429, 503}
    responses: dict[str, Any] = {str(status): success}
    for code, extra in (extra_ok or {}).items():
        responses[str(code)] = dict(extra)
    for code in sorted(codes):
        responses.setdefault(str(code), ref("responses", ERROR_RESPONSES[code]))
    operation: Operation = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = [dict(p) for p in parameters]
    if body is not None:
        operation["requestBody"] = dict(body)
    operation["security"] = [] if auth is None else [{f"{auth}Key": []}, {f"{auth}Bearer": []}]
    return operation


def document(
    operations: Mapping[tuple[str, str], Operation], *, version: str, format_names: Sequence[str] = ()
) -> dict[str, Any]:
    """The whole document; `format_names` (the app's formats, known once plugins load) become
    the values a partner's default format and a schedule's format may take."""
    components = copy.deepcopy(COMPONENTS)
    if format_names:
        schemas = components["schemas"]
        for schema, field in (
            ("PartnerCreate", "default_format"),
            ("PartnerUpdate", "default_format"),
            ("ScheduleCreate", "format"),
        ):
            schemas[schema]["properties"][field]["enum"] = list(format_names)
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), operation in sorted(operations.items()):
        paths.setdefault(openapi_path(path), {})[method.lower()] = operation
        for name in _path_params(path):
            params = operation.setdefault("parameters", [])
            if not any(p.get("name") == name and p.get("in") == "path" for p in params):
                params.insert(0, {"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "partner-catalog-ingest",
            "version": version,
            "summary": "Partners push product catalog feeds; operators manage partners, keys and the audit trail.",
            "description": 'Every error answers `{"error": <stable code>, "details": {"message", "request_id", ...}}`. '
            "Start with GET /partner/help.",
        },
        "paths": paths,
        "components": components,
    }


def openapi_path(path: str) -> str:
    """A Starlette route path as OpenAPI writes it: `{sku:path}` -> `{sku}`."""
    return _CONVERTOR.sub(r"{\1}", path)


_CONVERTOR: Final = re.compile(r"\{(\w+):\w+\}")


def _path_params(path: str) -> list[str]:
    names = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            names.append(part[1:-1].split(":", 1)[0])
    return names
