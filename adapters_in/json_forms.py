"""JSON forms shared by the HTTP API and the CLI's JSON output, so both say one thing one way.

Decimals are strings (a price comes back exactly as stored), times are ISO 8601
with their offset, enums are their values. The forms here are the ones both
delivery channels print; forms only the API answers stay in adapters_in/http/views.py.
This module imports no web framework, nor anything at start-up the CLI would not need.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from partner_ingest.domain.model.webhooks import Delivery, Webhook

__all__ = ["delivery_json", "json_default", "webhook_json"]


def json_default(value: object) -> object:
    """`json.dumps(default=...)` for the values domain objects hold beside plain JSON."""
    from decimal import Decimal  # on first use: start-up loads no decimal (ADR 0042)

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def webhook_json(hook: Webhook) -> dict[str, Any]:
    """A webhook as shown (never a secret)."""
    return {
        "url": hook.url,
        "enabled": hook.enabled,
        "consecutive_failures": hook.failures,
        "disabled_at": hook.disabled_at,
        "disabled_reason": hook.disabled_reason,
        "previous_secret_valid_until": hook.previous_until if hook.previous_secret else None,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """One delivery of the log (the payload is what was signed and sent)."""
    return {
        "id": delivery.id,
        "event": str(delivery.event),
        "status": str(delivery.status),
        "attempts": delivery.attempts,
        "created_at": delivery.created_at,
        "next_attempt_at": None if delivery.finished else delivery.available_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "payload": delivery.payload,
    }
