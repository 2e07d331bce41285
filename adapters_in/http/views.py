"""JSON forms of what the endpoints answer, and the response class that renders them.

Decimals are strings (a price must come back exactly as stored), times are
ISO 8601 in UTC, and credentials appear only as `MASK`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from starlette.responses import JSONResponse

from partner_ingest.adapters_in.json_forms import json_default
from partner_ingest.domain.model.audit import AuditEntry
from partner_ingest.domain.model.feed_import import FeedImport
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.use_cases.manage_keys import CreatedKey, KeySummary
from partner_ingest.domain.use_cases.manage_partners import PartnerView

__all__ = [
    "MASK",
    "JsonResponse",
    "PlainJsonResponse",
    "audit_entry_json",
    "created_key_json",
    "feed_import_json",
    "key_json",
    "partner_json",
    "product_json",
]

MASK: Final = "****"


class JsonResponse(JSONResponse):
    """A JSON response that also renders decimals, times and enums."""

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any JSON value
        return _ENCODER.encode(content).encode("utf-8")


# What json.dumps builds for every call with these arguments, built once (the same text).
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)


class PlainJsonResponse(JsonResponse):
    """A `JsonResponse` of plain JSON values only: str, int, bool, None, and lists and dicts of them.

    Such a value is encoded by msgspec, to the same bytes as `JsonResponse` (compact, UTF-8,
    the same escapes), in a fraction of the time. Anything else (a float, a time, a decimal)
    msgspec would write its own way, so it belongs in a `JsonResponse`; a value msgspec
    refuses (a lone surrogate) goes the `JsonResponse` way, which refuses it as before.
    """

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any plain JSON value
        if _PLAIN_ENCODE is not None:
            try:
                return _PLAIN_ENCODE(content)
            except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
                pass
        return super().render(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """The raw headers `Response.init_headers` makes (the given ones lower-cased, then
        Content-Length and Content-Type), without its general checks, for a usual answer."""
        given = (
            []
            if headers is None
            else [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        )
        if self.status_code < 200 or self.status_code in (204, 304) or any(k in _SET_HERE for k, _ in given):
            super().init_headers(headers)
            return
        given.append((b"content-length", str(len(self.body)).encode("latin-1")))
        given.append(_JSON_TYPE)
        self.raw_headers = given


_SET_HERE: Final = frozenset({b"content-length", b"content-type"})
_JSON_TYPE: Final = (b"content-type", b"application/json")


def _plain_encoder() -> Callable[[Any], bytes] | None:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - the server extra brings msgspec
        return None
    encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode
    return encode


_PLAIN_ENCODE: Final = _plain_encoder()


def partner_json(view: PartnerView) -> dict[str, Any]:
    """A partner for operators: credentials masked, header names shown, values never."""
    return {
        "id": view.id,
        "name": view.name,
        "created_at": view.created_at,
        "default_format": view.default_format,
        "default_version": view.default_version,
        "policy": view.policy.to_json(),
        "allow_policy_override": view.allow_policy_override,
        "currency": view.currency,
        "rate_limit_per_minute": view.rate_limit_per_minute,
        "endpoint": view.endpoint,
        "endpoint_auth": MASK if view.endpoint_auth_set else None,
        "endpoint_headers": dict.fromkeys(view.endpoint_header_names, MASK),
        "active": view.active,
        "feed_mode": str(view.feed_mode),
    }


def key_json(key: KeySummary) -> dict[str, Any]:
    """A key as listed: its public id and masked form, never its secret or hash."""
    return {
        "id": key.id,
        "role": key.role,
        "partner_id": key.partner_id,
        "masked": key.masked,
        "label": key.label,
        "status": key.status,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
        "replaces": key.replaces,
    }


def created_key_json(created: CreatedKey) -> dict[str, Any]:
    """A new key: the only answer that ever carries the plaintext."""
    return {
        "api_key": created.plaintext,
        "shown_once": True,
        "note": "store this key now: it cannot be shown again (only its hash is kept)",
        **key_json(created.key),
    }


def audit_entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry (details hold scalars, never a secret)."""
    return {
        "id": entry.id,
        "at": entry.at,
        "action": entry.action,
        "outcome": entry.outcome,
        "actor": entry.actor,
        "partner_id": entry.partner_id,
        "client": entry.client,
        "details": dict(entry.details),
    }


def feed_import_json(entry: FeedImport) -> dict[str, Any]:
    """A ledger entry and the report the partner got for it."""
    return {
        "feed_id": entry.id,
        "partner_id": entry.partner_id,
        "format": entry.format,
        "version": entry.version,
        "status": entry.status,
        "content_hash": entry.content_hash,
        "received_at": entry.received_at,
        "completed_at": entry.completed_at,
        "idempotency_key": entry.idempotency_key,
        "job_id": entry.job_id,
        "report": entry.report.to_json(),
    }


def product_json(product: Product, at: datetime | None = None) -> dict[str, Any]:
    """A stored product in the canonical shape (prices as exact decimal strings); with `at`,
    also its effective price at that instant (`Product.price_at`)."""
    dims = product.dimensions
    extra: Mapping[str, Any] = product.extra
    priced = {} if at is None else {"effective_price": product.price_at(at), "at": at}
    return {
        **priced,
        "sku": product.sku,
        "name": product.name,
        "price": product.price,
        "currency": product.currency,
        "quantity": product.quantity,
        "brand": product.brand,
        "manufacturer": product.manufacturer,
        "gtin": product.gtin,
        "description": product.description,
        "image_url": product.image_url,
        "dimensions": None
        if dims is None
        else {"width": dims.width, "height": dims.height, "depth": dims.depth, "unit": dims.unit},
        "sale_price": product.sale_price,
        "sale_starts_at": product.sale_starts_at,
        "sale_ends_at": product.sale_ends_at,
        "extra": dict(extra),
        "feed_id": product.feed_id,
    }
