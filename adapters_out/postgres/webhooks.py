"""`partner_webhooks` and `partner_webhook_deliveries`: completion webhooks and their deliveries (ADR 0034).

A claim is one UPDATE of the delivery its sub-select locks with FOR UPDATE SKIP LOCKED:
claimers running at once each take another delivery (the locked row is re-checked after
the lock, so one claimed meanwhile is passed over). Finishing an attempt is one UPDATE
whose WHERE clause is `Delivery.held_by`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from partner_ingest.domain.model.webhooks import Delivery, DeliveryStatus, Webhook, WebhookEvent

from ._codec import storable_text
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresWebhookRepository"]

_HOOK_FIELDS: Final = (
    "partner_id",
    "url",
    "secret",
    "previous_secret",
    "previous_until",
    "enabled",
    "failures",
    "disabled_at",
    "disabled_reason",
    "created_at",
    "updated_at",
)
_HOOK_COLUMNS: Final = ", ".join(_HOOK_FIELDS)
_PUT: Final = (
    f"INSERT INTO partner_webhooks ({_HOOK_COLUMNS}) VALUES ({', '.join(['%s'] * len(_HOOK_FIELDS))})"
    " ON CONFLICT (partner_id) DO UPDATE SET "
    + ", ".join(f"{field} = EXCLUDED.{field}" for field in _HOOK_FIELDS[1:])
)
_DELIVERY_FIELDS: Final = (
    "id",
    "partner_id",
    "event",
    "payload",
    "status",
    "attempts",
    "created_at",
    "available_at",
    "lease_token",
    "lease_until",
    "last_status",
    "last_error",
    "delivered_at",
)
_DELIVERY_COLUMNS: Final = ", ".join(_DELIVERY_FIELDS)
_CLAIM: Final = f"""
UPDATE partner_webhook_deliveries
   SET status = 'delivering', attempts = attempts + 1, lease_token = %s, lease_until = %s
 WHERE id = (
    SELECT id FROM partner_webhook_deliveries
     WHERE (status = 'pending' AND available_at <= %s) OR (status = 'delivering' AND lease_until <= %s)
     ORDER BY CASE status WHEN 'pending' THEN available_at ELSE lease_until END, created_at, id
     LIMIT 1
     FOR UPDATE SKIP LOCKED)
RETURNING {_DELIVERY_COLUMNS}
"""
_FINISH: Final = (
    "UPDATE partner_webhook_deliveries SET "
    + ", ".join(f"{field} = %s" for field in _DELIVERY_FIELDS[4:])
    + " WHERE id = %s AND status = 'delivering' AND lease_token = %s"
)


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(
        partner_id=row[0],
        url=row[1],
        secret=row[2],
        previous_secret=row[3],
        previous_until=row[4],
        enabled=bool(row[5]),
        failures=row[6],
        disabled_at=row[7],
        disabled_reason=row[8],
        created_at=row[9],
        updated_at=row[10],
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=row[0],
        partner_id=row[1],
        event=WebhookEvent(row[2]),
        payload=row[3],
        status=DeliveryStatus(row[4]),
        attempts=row[5],
        created_at=row[6],
        available_at=row[7],
        lease_token=row[8],
        lease_until=row[9],
        last_status=row[10],
        last_error=row[11],
        delivered_at=row[12],
    )


def _delivery_values(d: Delivery) -> tuple[Any, ...]:
    return (
        d.id,
        d.partner_id,
        str(d.event),
        d.payload,
        str(d.status),
        d.attempts,
        d.created_at,
        d.available_at,
        d.lease_token,
        d.lease_until,
        d.last_status,
        None if d.last_error is None else storable_text(d.last_error),
        d.delivered_at,
    )


class PostgresWebhookRepository:
    """Webhooks and deliveries in one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, partner_id: str) -> Webhook | None:
        """A partner's webhook, or None."""
        row = self._conn.execute(
            f"SELECT {_HOOK_COLUMNS} FROM partner_webhooks WHERE partner_id = %s", (partner_id,)
        ).fetchone()
        return None if row is None else _webhook(row)

    def put(self, webhook: Webhook) -> None:
        """Store a partner's webhook, replacing the one it had."""
        self._conn.execute(
            _PUT,
            (
                webhook.partner_id,
                webhook.url,
                webhook.secret,
                webhook.previous_secret,
                webhook.previous_until,
                webhook.enabled,
                webhook.failures,
                webhook.disabled_at,
                webhook.disabled_reason,
                webhook.created_at,
                webhook.updated_at,
            ),
        )

    def remove(self, partner_id: str) -> bool:
        """Remove a partner's webhook; False when it had none."""
        cursor = self._conn.execute("DELETE FROM partner_webhooks WHERE partner_id = %s", (partner_id,))
        return cursor.rowcount == 1

    def all(self) -> list[Webhook]:
        """Every webhook, by partner."""
        rows = self._conn.execute(f"SELECT {_HOOK_COLUMNS} FROM partner_webhooks ORDER BY partner_id")
        return [_webhook(row) for row in rows]

    def add_delivery(self, delivery: Delivery) -> None:
        """Queue a new delivery; ConflictError when its id is stored already."""
        with conflicts(self._conn, f"delivery {delivery.id!r}"):
            self._conn.execute(
                f"INSERT INTO partner_webhook_deliveries ({_DELIVERY_COLUMNS})"
                f" VALUES ({', '.join(['%s'] * len(_DELIVERY_FIELDS))})",
                _delivery_values(delivery),
            )

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        row = self._conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM partner_webhook_deliveries WHERE id = %s", (delivery_id,)
        ).fetchone()
        return None if row is None else _delivery(row)

    def claim_delivery(self, now: datetime, lease_for: timedelta, token: str) -> Delivery | None:
        """The claimable delivery due first, claimed."""
        row = self._conn.execute(_CLAIM, (token, now + lease_for, now, now)).fetchone()
        return None if row is None else _delivery(row)

    def finish_delivery(self, token: str, finished: Delivery) -> bool:
        """Store `finished` if the delivery is still delivering under `token`."""
        values = _delivery_values(finished)
        cursor = self._conn.execute(_FINISH, (*values[4:], finished.id, token))
        return cursor.rowcount == 1

    def deliveries(self, partner_id: str | None = None, *, limit: int = 50) -> list[Delivery]:
        """Newest first."""
        if partner_id is None:
            rows = self._conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM partner_webhook_deliveries"
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (limit,),
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM partner_webhook_deliveries WHERE partner_id = %s"
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (partner_id, limit),
            )
        return [_delivery(row) for row in rows]

    def purge_deliveries(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest finished ones created before `before`, up to `limit`."""
        cursor = self._conn.execute(
            "DELETE FROM partner_webhook_deliveries WHERE id IN (SELECT id FROM partner_webhook_deliveries"
            " WHERE status IN ('delivered', 'failed') AND created_at < %s ORDER BY created_at LIMIT %s)",
            (before, limit),
        )
        return cursor.rowcount
