"""`partner_webhooks` and `partner_webhook_deliveries`: completion webhooks and their deliveries (ADR 0034, ADR 0040).

A claim is one UPDATE of the delivery its sub-select picks: on SQLite one writer at a
time, so no two claimers get the same one; on PostgreSQL the sub-select locks its row
with FOR UPDATE SKIP LOCKED (the dialect's `skip_locked`), so claimers running at once
each take another delivery (the locked row is re-checked after the lock, so one claimed
meanwhile is passed over). Finishing an attempt is one UPDATE whose WHERE clause is
`Delivery.held_by`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.webhooks import Delivery, DeliveryStatus, Webhook, WebhookEvent

from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["DeliveryRow", "SqlWebhookRepository", "WebhookRow", "delivery", "webhook"]


class WebhookRow(NamedTuple):
    """The columns a webhook is read from and written to, in order."""

    partner_id: str
    url: str
    secret: str
    previous_secret: str | None
    previous_until: Any
    enabled: bool
    failures: int
    disabled_at: Any
    disabled_reason: str | None
    created_at: Any
    updated_at: Any


class DeliveryRow(NamedTuple):
    """The columns a delivery is read from and written to, in order; from `status` on, an attempt changes them."""

    id: str
    partner_id: str
    event: str
    payload: str
    status: str
    attempts: int
    created_at: Any
    available_at: Any
    lease_token: str | None
    lease_until: Any
    last_status: int | None
    last_error: str | None
    delivered_at: Any


_HOOK_COLUMNS: Final = ", ".join(WebhookRow._fields)
_PUT: Final = (
    f"INSERT INTO partner_webhooks ({_HOOK_COLUMNS}) VALUES ({', '.join('?' * len(WebhookRow._fields))})"
    " ON CONFLICT (partner_id) DO UPDATE SET "
    + ", ".join(f"{field} = EXCLUDED.{field}" for field in WebhookRow._fields[1:])
)
_DELIVERY_COLUMNS: Final = ", ".join(DeliveryRow._fields)
_CLAIM: Final = f"""
UPDATE partner_webhook_deliveries
   SET status = 'delivering', attempts = attempts + 1, lease_token = ?, lease_until = ?
 WHERE id = (
    SELECT id FROM partner_webhook_deliveries
     WHERE (status = 'pending' AND available_at <= ?) OR (status = 'delivering' AND lease_until <= ?)
     ORDER BY CASE status WHEN 'pending' THEN available_at ELSE lease_until END, created_at, id
     LIMIT 1{{skip_locked}})
RETURNING {_DELIVERY_COLUMNS}
"""
_FINISH: Final = (
    "UPDATE partner_webhook_deliveries SET "
    + ", ".join(f"{field} = ?" for field in DeliveryRow._fields[4:])
    + " WHERE id = ? AND status = 'delivering' AND lease_token = ?"
)


def webhook(row: WebhookRow, d: Dialect) -> Webhook:
    """The webhook a row holds."""
    return Webhook(
        partner_id=row.partner_id,
        url=row.url,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_until=d.opt_from_time(row.previous_until),
        enabled=bool(row.enabled),
        failures=row.failures,
        disabled_at=d.opt_from_time(row.disabled_at),
        disabled_reason=row.disabled_reason,
        created_at=d.from_time(row.created_at),
        updated_at=d.from_time(row.updated_at),
    )


def delivery(row: DeliveryRow, d: Dialect) -> Delivery:
    """The delivery a row holds."""
    return Delivery(
        id=row.id,
        partner_id=row.partner_id,
        event=WebhookEvent(row.event),
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=d.from_time(row.created_at),
        available_at=d.from_time(row.available_at),
        lease_token=row.lease_token,
        lease_until=d.opt_from_time(row.lease_until),
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=d.opt_from_time(row.delivered_at),
    )


def _delivery_row(x: Delivery, d: Dialect) -> DeliveryRow:
    return DeliveryRow(
        id=x.id,
        partner_id=x.partner_id,
        event=str(x.event),
        payload=x.payload,
        status=str(x.status),
        attempts=x.attempts,
        created_at=d.time(x.created_at),
        available_at=d.time(x.available_at),
        lease_token=x.lease_token,
        lease_until=d.opt_time(x.lease_until),
        last_status=x.last_status,
        last_error=None if x.last_error is None else d.text(x.last_error),
        delivered_at=d.opt_time(x.delivered_at),
    )


class SqlWebhookRepository(SqlRepository):
    """Webhooks and deliveries in one connection's current transaction."""

    __slots__ = ()

    def get(self, partner_id: str) -> Webhook | None:
        """A partner's webhook, or None."""
        row = self._run(
            f"SELECT {_HOOK_COLUMNS} FROM partner_webhooks WHERE partner_id = ?", (partner_id,)
        ).fetchone()
        return None if row is None else webhook(WebhookRow._make(row), self._d)

    def put(self, webhook: Webhook) -> None:
        """Store a partner's webhook, replacing the one it had."""
        d = self._d
        self._run(
            _PUT,
            WebhookRow(
                partner_id=webhook.partner_id,
                url=webhook.url,
                secret=webhook.secret,
                previous_secret=webhook.previous_secret,
                previous_until=d.opt_time(webhook.previous_until),
                enabled=webhook.enabled,
                failures=webhook.failures,
                disabled_at=d.opt_time(webhook.disabled_at),
                disabled_reason=webhook.disabled_reason,
                created_at=d.time(webhook.created_at),
                updated_at=d.time(webhook.updated_at),
            ),
        )

    def remove(self, partner_id: str) -> bool:
        """Remove a partner's webhook; False when it had none."""
        return self._run("DELETE FROM partner_webhooks WHERE partner_id = ?", (partner_id,)).rowcount == 1

    def all(self) -> list[Webhook]:
        """Every webhook, by partner."""
        rows = self._run(f"SELECT {_HOOK_COLUMNS} FROM partner_webhooks ORDER BY partner_id")
        return [webhook(WebhookRow._make(row), self._d) for row in rows]

    def add_delivery(self, delivery: Delivery) -> None:
        """Queue a new delivery; ConflictError when its id is stored already."""
        with self._d.conflicts(self._conn, f"delivery {delivery.id!r}"):
            self._run(
                f"INSERT INTO partner_webhook_deliveries ({_DELIVERY_COLUMNS})"
                f" VALUES ({', '.join('?' * len(DeliveryRow._fields))})",
                _delivery_row(delivery, self._d),
            )

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        row = self._run(
            f"SELECT {_DELIVERY_COLUMNS} FROM partner_webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        return None if row is None else delivery(DeliveryRow._make(row), self._d)

    def claim_delivery(self, now: datetime, lease_for: timedelta, token: str) -> Delivery | None:
        """The claimable delivery due first, claimed."""
        d = self._d
        at = d.time(now)
        row = self._run(
            _CLAIM.format(skip_locked=d.skip_locked), (token, d.time(now + lease_for), at, at)
        ).fetchone()
        return None if row is None else delivery(DeliveryRow._make(row), d)

    def finish_delivery(self, token: str, finished: Delivery) -> bool:
        """Store `finished` if the delivery is still delivering under `token`."""
        row = _delivery_row(finished, self._d)
        return self._run(_FINISH, (*row[4:], finished.id, token)).rowcount == 1

    def deliveries(self, partner_id: str | None = None, *, limit: int = 50) -> list[Delivery]:
        """Newest first."""
        where, args = ("WHERE partner_id = ?", (partner_id,)) if partner_id is not None else ("", ())
        rows = self._run(
            f"SELECT {_DELIVERY_COLUMNS} FROM partner_webhook_deliveries {where}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (*args, limit),
        )
        return [delivery(DeliveryRow._make(row), self._d) for row in rows]

    def purge_deliveries(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest finished ones created before `before`, up to `limit`."""
        cursor = self._run(
            "DELETE FROM partner_webhook_deliveries WHERE id IN (SELECT id FROM partner_webhook_deliveries"
            " WHERE status IN ('delivered', 'failed') AND created_at < ? ORDER BY created_at LIMIT ?)",
            (self._d.time(before), limit),
        )
        return cursor.rowcount
