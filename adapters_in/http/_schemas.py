"""The OpenAPI components shared by every operation: schemas, error responses, headers, security.

Kept apart from openapi.py because it is long and purely declarative. The
shapes mirror views.py and `IngestReport.to_json`; the e2e tests validate real
answers against them.
"""

from __future__ import annotations

from typing import Any, Final

from partner_ingest.domain.model.audit import AuditAction, Outcome
from partner_ingest.domain.model.currencies import MINOR_UNITS
from partner_ingest.domain.model.report import ErrorCode
from partner_ingest.domain.use_cases.manage_keys import MAX_LABEL_LENGTH, MAX_OVERLAP
from partner_ingest.domain.use_cases.manage_partners import (
    MAX_HEADERS,
    MAX_NAME,
    MAX_RATE_LIMIT,
    MAX_SECRET,
    MAX_URL,
)

from ._diagnostic_schemas import DIAGNOSTIC_SCHEMAS
from ._job_schemas import JOB_SCHEMAS

__all__ = ["COMPONENTS"]

_STR: Final = {"type": "string"}
_OPT_STR: Final = {"type": ["string", "null"]}
_INT: Final = {"type": "integer"}
_INT64_MAX: Final = 2**63 - 1
# Every integer the server reads is a 64-bit one (params.py refuses the rest before a store sees it).
_INT64: Final = {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": _INT64_MAX}
_VERSION: Final = {"type": "integer", "format": "int64", "minimum": 1, "maximum": _INT64_MAX}
_MASK: Final = "****"
MAX_OVERLAP_SECONDS: Final = int(MAX_OVERLAP.total_seconds())
_TIME: Final = {"type": "string", "format": "date-time"}
_OPT_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_DECIMAL: Final = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "exact decimal, as text"}


def _obj(required: list[str], properties: dict[str, Any], *, extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": extra}


_LOCATION: Final = _obj([], {"pointer": _STR, "line": _INT, "column": _INT, "offset": _INT})
_POLICY: Final = _obj(
    [],
    {
        "mode": {"type": "string", "enum": ["strict", "lenient"]},
        "atomic": {"type": "boolean"},
        "max_error_ratio": {"type": "number", "minimum": 0, "maximum": 1},
    },
)
_FORMAT_NAMES: Final = "json, jsonl, csv, xml, gmc-xml, gmc-tsv, shopify-csv (see /partner/contract)"
_CURRENCY_NOTE: Final = "ISO 4217 code for feeds whose format carries none (shopify-csv); null: none"
_ENDPOINT_NOTE: Final = (
    "http(s) URL feeds are pulled from; not on a loopback, private, link-local or metadata address"
)
# What an operator sends (bounds the server enforces, so a client learns them here, not from a 422).
_PARTNER_INPUT: Final = {
    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "description": "printable, not blank"},
    "default_format": {"type": "string", "minLength": 1, "description": _FORMAT_NAMES},
    "default_version": {**_VERSION, "description": "a version of default_format"},
    "policy": {"$ref": "#/components/schemas/Policy"},
    "allow_policy_override": {"type": "boolean"},
    "currency": {"enum": [*sorted(MINOR_UNITS), None], "description": _CURRENCY_NOTE},
    "rate_limit_per_minute": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": MAX_RATE_LIMIT,
        "description": "null: the server's default",
    },
    "endpoint": {
        "type": ["string", "null"],
        "format": "uri",
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
        "maxLength": MAX_URL,
        "description": _ENDPOINT_NOTE,
    },
    "endpoint_auth": {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": MAX_SECRET,
        "pattern": "^[^\\r\\n]*$",
        "description": "credential for the endpoint, on one line (stored encrypted, answered as ****)",
    },
    "endpoint_headers": {
        "type": "object",
        "maxProperties": MAX_HEADERS,
        "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
        "additionalProperties": {"type": "string", "maxLength": MAX_SECRET, "pattern": "^[^\\r\\n]*$"},
        "description": "extra request headers for pulls (values stored encrypted, answered as ****)",
    },
    "active": {"type": "boolean"},
    "feed_mode": {
        "type": "string",
        "enum": ["upsert", "snapshot", "patch"],
        "description": "mode of the partner's feeds that name none (X-Feed-Mode); default upsert",
    },
}
# What the server answers: every field, credentials masked.
_PARTNER: Final = _obj(
    [
        "id",
        "name",
        "created_at",
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
    ],
    {
        "id": _STR,
        "name": _STR,
        "created_at": _TIME,
        "default_format": _STR,
        "default_version": _INT,
        "policy": {"$ref": "#/components/schemas/Policy"},
        "allow_policy_override": {"type": "boolean"},
        "currency": {"type": ["string", "null"], "description": _CURRENCY_NOTE},
        "rate_limit_per_minute": {"type": ["integer", "null"]},
        "endpoint": {"type": ["string", "null"], "description": _ENDPOINT_NOTE},
        "endpoint_auth": {
            "enum": [_MASK, None],
            "description": "**** when a credential is stored, else null",
        },
        "endpoint_headers": {
            "type": "object",
            "additionalProperties": {"const": _MASK},
            "description": "the names of the stored pull headers; values never shown",
        },
        "active": {"type": "boolean"},
        "feed_mode": {
            "type": "string",
            "enum": ["upsert", "snapshot", "patch"],
            "description": "mode of the partner's feeds that name none (X-Feed-Mode)",
        },
    },
)
_KEY: Final = _obj(
    ["id", "role", "masked", "status", "created_at"],
    {
        "id": _STR,
        "role": {"type": "string", "enum": ["partner", "admin"]},
        "partner_id": _OPT_STR,
        "masked": {"type": "string", "description": "pcik_<id>_**** (never the secret)"},
        "label": _STR,
        "status": {"type": "string", "enum": ["active", "retiring", "expired", "revoked"]},
        "created_at": _TIME,
        "expires_at": _OPT_TIME,
        "revoked_at": _OPT_TIME,
        "last_used_at": _OPT_TIME,
        "replaces": _OPT_STR,
    },
)
_REPORT: Final = _obj(
    ["feed_id", "partner_id", "format", "version", "status", "dry_run", "counts", "errors", "errors_total"],
    {
        "feed_id": _STR,
        "partner_id": _STR,
        "format": _STR,
        "version": _INT,
        "status": {"type": "string", "enum": ["accepted", "partial", "rejected", "held"]},
        "dry_run": {"type": "boolean"},
        "counts": _obj(
            ["received", "created", "updated", "unchanged", "rejected", "deleted", "retired"],
            dict.fromkeys(
                ("received", "created", "updated", "unchanged", "rejected", "deleted", "retired"), _INT
            ),
        ),
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ItemError"}},
        "errors_total": _INT,
        "errors_truncated": {"type": "boolean"},
        "feed_error": {"oneOf": [{"$ref": "#/components/schemas/FeedError"}, {"type": "null"}]},
        "warnings": {
            "type": "array",
            "items": _STR,
            "description": "present when there is something to change, e.g. a deprecated contract version",
        },
    },
)
# A feed of which nothing was accepted (422): the report, and the error fields every error answer has.
_REJECTED_FEED: Final = _obj(
    [*_REPORT["required"], "error", "details"],
    {
        **_REPORT["properties"],
        "error": {"const": "feed_rejected"},
        "details": _obj(
            ["message", "feed_error", "rejected"],
            {
                "message": _STR,
                "request_id": _STR,
                "feed_error": {
                    "type": ["string", "null"],
                    "description": "feed_error.code, if the feed as a whole failed",
                },
                "rejected": _INT,
            },
        ),
    },
)
_PRODUCT: Final = _obj(
    ["sku", "name", "price", "currency", "quantity"],
    {
        "sku": _STR,
        "name": _STR,
        "price": _DECIMAL,
        "currency": _STR,
        "quantity": _INT,
        "brand": _OPT_STR,
        "manufacturer": _OPT_STR,
        "gtin": _OPT_STR,
        "description": _OPT_STR,
        "image_url": _OPT_STR,
        "dimensions": {"type": ["object", "null"]},
        "sale_price": {"type": ["string", "null"]},
        "sale_starts_at": _OPT_STR,
        "sale_ends_at": _OPT_STR,
        "extra": {"type": "object", "description": "fields the contract does not know yet (lenient mode)"},
        "feed_id": {
            "type": ["string", "null"],
            "description": "the import that wrote this version (GET /partner/imports/{feed_id}); an import that "
            "sent it unchanged, or retired it, does not replace it; null when not known (stored before "
            "imports were recorded on products)",
        },
        "effective_price": {
            "type": "string",
            "description": "with ?at=: the price at that instant (the sale price inside its window, else price)",
        },
        "at": {**_TIME, "description": "with ?at=: the instant effective_price is for"},
    },
)

_SCHEMAS: Final[dict[str, Any]] = {
    "Error": _obj(
        ["error", "details"],
        {
            "error": {"type": "string", "description": "stable machine code; branch on this"},
            "details": _obj(
                ["message"],
                {"message": _STR, "request_id": {"type": "string", "description": "as in X-Request-ID"}},
                extra=True,
            ),
        },
    ),
    "Location": _LOCATION,
    "ItemError": _obj(
        ["index", "field", "code", "message"],
        {
            "index": _INT,
            "sku": _OPT_STR,
            "field": _STR,
            "code": {"type": "string", "enum": [str(c) for c in ErrorCode]},
            "message": _STR,
            "location": {"$ref": "#/components/schemas/Location"},
            "hint": {
                "type": "string",
                "description": "how to fix it: a close field name or value, the allowed values",
            },
        },
    ),
    "FeedError": _obj(
        ["code", "message"],
        {
            "code": _STR,
            "message": _STR,
            "location": {"$ref": "#/components/schemas/Location"},
            "hint": {
                "type": "string",
                "description": "how to fix it: the delimiter or format the body looks like",
            },
        },
    ),
    "IngestReport": _REPORT,
    "RejectedFeed": _REJECTED_FEED,
    "FeedImport": _obj(
        ["feed_id", "partner_id", "status", "report"],
        {
            "feed_id": _STR,
            "partner_id": _STR,
            "format": _STR,
            "version": _INT,
            "status": {"type": "string", "enum": ["applied", "rejected", "held", "released", "discarded"]},
            "content_hash": _STR,
            "received_at": _TIME,
            "completed_at": _TIME,
            "idempotency_key": _OPT_STR,
            "job_id": _OPT_STR,
            "report": {"$ref": "#/components/schemas/IngestReport"},
        },
    ),
    "ChangePage": _obj(
        ["changes", "next_after"],
        {
            "changes": {
                "type": "array",
                "items": _obj(
                    ["cursor", "partner_id", "sku", "kind", "at"],
                    {
                        "cursor": _STR,
                        "partner_id": _STR,
                        "sku": _STR,
                        "kind": {"type": "string", "enum": ["created", "updated", "retired", "restored"]},
                        "at": _TIME,
                    },
                ),
            },
            "next_after": {"type": ["string", "null"], "description": "pass as `after` for the next page"},
        },
    ),
    "FeedImportList": _obj(
        ["imports"], {"imports": {"type": "array", "items": {"$ref": "#/components/schemas/FeedImport"}}}
    ),
    "Product": _PRODUCT,
    "ProductPage": _obj(
        ["products", "next_after"],
        {
            "products": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}},
            "next_after": _OPT_STR,
        },
    ),
    "Policy": _POLICY,
    "Partner": _PARTNER,
    "PartnerList": _obj(
        ["partners"], {"partners": {"type": "array", "items": {"$ref": "#/components/schemas/Partner"}}}
    ),
    "PartnerCreate": _obj(
        ["id", "name"], {"id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}, **_PARTNER_INPUT}
    ),
    "PartnerUpdate": _obj([], _PARTNER_INPUT),
    "Key": _KEY,
    "KeyList": _obj(["keys"], {"keys": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}),
    # Not allOf [Key, {api_key}]: Key allows no other properties, so nothing could match both.
    "CreatedKey": _obj(
        ["api_key", "shown_once", *_KEY["required"]],
        {
            "api_key": {"type": "string", "description": "the key itself, shown this once"},
            "shown_once": {"const": True},
            "note": _STR,
            **_KEY["properties"],
        },
    ),
    "KeyCreate": _obj(
        [],
        {
            "label": {"type": "string", "maxLength": MAX_LABEL_LENGTH},
            "expires_at": {**_TIME, "description": "in the future"},
        },
    ),
    "KeyRotate": _obj(
        [],
        {
            "overlap_seconds": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "maximum": MAX_OVERLAP_SECONDS,
                "default": 86400,
            },
            "expires_at": {**_TIME, "description": "in the future"},
        },
    ),
    "AuditEntry": _obj(
        ["id", "at", "action", "outcome", "actor"],
        {
            "id": _INT,
            "at": _TIME,
            "action": {"type": "string", "enum": [str(a) for a in AuditAction]},
            "outcome": {"type": "string", "enum": [str(o) for o in Outcome]},
            "actor": _STR,
            "partner_id": _OPT_STR,
            "client": _OPT_STR,
            "details": {"type": "object"},
        },
    ),
    "AuditPage": _obj(
        ["entries", "next_before_id"],
        {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
            "next_before_id": {"type": ["integer", "null"]},
            "next": {"type": ["string", "null"], "description": "URL of the next (older) page"},
        },
    ),
    "Contract": {
        "type": "object",
        "description": "versions, formats with media types (and, for foreign formats, their mapping onto "
        "the canonical fields), JSON Schemas, error codes, feed modes and the spelling of a delete",
    },
    "Examples": _obj(
        ["examples"],
        {
            "examples": {
                "type": "array",
                "items": _obj(
                    ["format", "version", "media_type", "body"],
                    {
                        "format": _STR,
                        "version": _INT,
                        "media_type": _STR,
                        "body": _STR,
                        "sample": {
                            "type": "boolean",
                            "description": "a foreign format's own sample document, not a rendered product",
                        },
                        "partner_settings": {
                            "type": "array",
                            "items": _STR,
                            "description": "partner settings the sample needs (currency)",
                        },
                    },
                ),
            }
        },
    ),
    "JsonFeed": _obj(
        ["products"],
        {"products": {"type": "array", "items": {"type": "object"}}},
        extra=True,
    ),
    "Help": {"type": "object", "description": "a quickstart: steps, each with a copy-paste curl command"},
    "Health": _obj(["status"], {"status": _STR}),
    "Readiness": _obj(["ready", "checks"], {"ready": {"type": "boolean"}, "checks": {"type": "object"}}),
}


def _error(description: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
    }
    for name in headers:
        out["headers"][name] = {"$ref": f"#/components/headers/{name}"}
    return out


_RESPONSES: Final = {
    "BadRequest": _error(
        "a header, parameter or body cannot be read (invalid_header, invalid_parameter: also an empty "
        "or repeated query parameter, unknown_parameter: a query parameter the operation does not declare, "
        "details.parameters, malformed_json, malformed_body, unknown_feed_version: details.available)"
    ),
    "Unauthenticated": _error(
        "no valid API key (unauthenticated); missing, unknown, revoked and expired look alike",
        ("WWW-Authenticate",),
    ),
    "Forbidden": _error(
        "a valid key of the wrong role (forbidden), or a policy override the partner may not make "
        "(policy_override_denied)",
        ("RateLimit", "RateLimit-Policy"),
    ),
    "NotFound": _error("no such route or resource, or not yours (not_found)"),
    "MethodNotAllowed": _error(
        "the route exists without this method (method_not_allowed; details.allowed)", ("Allow",)
    ),
    "Conflict": _error(
        "it exists already (conflict), or a job that is not dead cannot be retried (job_not_dead)"
    ),
    "BodyTooLarge": _error(
        "body_too_large, or feed_too_large_for_sync: send it as a job (Prefer: respond-async)"
    ),
    "UnsupportedMediaType": _error(
        "unsupported_media_type or unsupported_content_encoding; details.supported lists what is"
    ),
    "Invalid": _error(
        "the request is well-formed but wrong: invalid_request (details.problems: field -> why), "
        "invalid_partner (details.problems), invalid_key_request, invalid_page (details.field), "
        "invalid_schedule or invalid_cron (a schedule rule that cannot run)"
    ),
    "TooManyRequests": _error(
        "rate_limited (the key's quota) or too_many_failed_attempts (this address is blocked)",
        ("Retry-After", "RateLimit", "RateLimit-Policy"),
    ),
    "InternalError": _error("internal_error: nothing about the cause; quote details.request_id"),
    "Unavailable": _error(
        "the database is busy (store_busy), newer than this release (schema_too_new), or not ready "
        "(not_ready): retry after Retry-After seconds",
        ("Retry-After",),
    ),
}

_HEADERS: Final = {
    "X-Request-ID": {
        "description": "this request's id, also in the server log and error bodies",
        "schema": _STR,
    },
    "Retry-After": {"description": "seconds to wait before trying again", "schema": _INT},
    "RateLimit": {"description": 'the key\'s quota left: "key";r=<remaining>;t=<seconds>', "schema": _STR},
    "RateLimit-Policy": {"description": 'the key\'s quota: "key";q=<limit>;w=60', "schema": _STR},
    "WWW-Authenticate": {"description": "Bearer", "schema": _STR},
    "Allow": {"description": "methods this route accepts", "schema": _STR},
}

_SECURITY: Final = {
    "partnerKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "a partner key (pcik_...)",
    },
    "partnerBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the same partner key as a bearer token",
    },
    "adminKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "an admin key (pcia_...)",
    },
    "adminBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the same admin key as a bearer token",
    },
}

COMPONENTS: Final = {
    "schemas": {**_SCHEMAS, **JOB_SCHEMAS, **DIAGNOSTIC_SCHEMAS},
    "responses": _RESPONSES,
    "headers": _HEADERS,
    "securitySchemes": _SECURITY,
}
