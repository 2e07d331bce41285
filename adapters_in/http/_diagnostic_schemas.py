"""OpenAPI schemas of diagnostics: the shapes of diagnostic_views.py."""

from __future__ import annotations

from typing import Any, Final

from partner_ingest.domain.model.report import ErrorCode

__all__ = ["DIAGNOSTIC_SCHEMAS"]

_STR: Final = {"type": "string"}
_OPT_STR: Final = {"type": ["string", "null"]}
_INT: Final = {"type": "integer"}
_TIME: Final = {"type": "string", "format": "date-time"}
_OPT_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_CODE: Final = {"type": "string", "enum": [str(c) for c in ErrorCode]}


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


DIAGNOSTIC_SCHEMAS: Final = {
    "Diagnostic": _obj(
        ["seq", "import_id", "index", "field", "code", "message", "raw_truncated", "recorded_at"],
        {
            "seq": {
                "type": "integer",
                "minimum": 1,
                "description": "position among the import's errors: the cursor",
            },
            "import_id": _STR,
            "index": _INT,
            "sku": _OPT_STR,
            "field": _STR,
            "code": _CODE,
            "message": _STR,
            "location": _ref("Location"),
            "value": {
                "type": ["string", "null"],
                "description": "the offending value, at most 200 characters",
            },
            "raw": {
                "type": ["string", "null"],
                "description": "the item as sent, as JSON text, at most 8192 characters",
            },
            "raw_truncated": {"type": "boolean"},
            "recorded_at": _TIME,
            "resolved_by": {
                "type": ["string", "null"],
                "description": "the later import that accepted this SKU",
            },
            "resolved_at": _OPT_TIME,
        },
    ),
    "DiagnosticPage": _obj(
        ["import_id", "errors", "next_after"],
        {
            "import_id": _STR,
            "errors": {"type": "array", "items": _ref("Diagnostic")},
            "next_after": {"type": ["integer", "null"], "description": "pass as `after` for the next page"},
        },
    ),
    "DiagnosticSummary": _obj(
        ["import_id", "total", "codes"],
        {
            "import_id": _STR,
            "total": _INT,
            "codes": {
                "type": "array",
                "items": _obj(
                    ["code", "count", "examples"],
                    {
                        "code": _CODE,
                        "count": _INT,
                        "examples": {"type": "array", "items": _ref("Diagnostic")},
                    },
                ),
            },
        },
    ),
    "ReplayResult": _obj(
        ["replayed_from", "replayed", "skipped_resolved", "skipped_truncated", "report"],
        {
            "replayed_from": _STR,
            "replayed": _INT,
            "skipped_resolved": _INT,
            "skipped_truncated": _INT,
            "report": _ref("IngestReport"),
        },
    ),
    "SkuStatus": _obj(
        ["sku", "accepted", "rejected"],
        {
            "sku": _STR,
            "accepted": {
                "oneOf": [
                    {"type": "null"},
                    _obj(
                        ["product", "import_id"],
                        {
                            "product": _ref("Product"),
                            "import_id": {
                                "type": ["string", "null"],
                                "description": "the import that wrote the accepted version (its feed_id)",
                            },
                        },
                    ),
                ]
            },
            "rejected": {
                "oneOf": [
                    {"type": "null"},
                    _obj(
                        ["import_id", "errors"],
                        {"import_id": _STR, "errors": {"type": "array", "items": _ref("Diagnostic")}},
                    ),
                ]
            },
        },
    ),
}
