"""The in-memory webhook repository: webhooks by partner, deliveries by id, writes undoable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from partner_ingest.adapters_out.store_errors import EXISTS
from partner_ingest.domain.model.errors import ConflictError
from partner_ingest.domain.model.webhooks import Delivery, Webhook

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryWebhookRepository", "WebhookTables"]


@attrs.define
class WebhookTables:
    """The two tables: webhooks by partner, deliveries by id."""

    webhooks: dict[str, Webhook] = attrs.Factory(dict)
    deliveries: dict[str, Delivery] = attrs.Factory(dict)


class InMemoryWebhookRepository:
    """Webhooks and deliveries of one unit of work; the store's lock makes each claim atomic."""

    def __init__(self, tables: WebhookTables, undo: UndoLog) -> None:
        self._t = tables
        self._undo = undo

    def get(self, partner_id: str) -> Webhook | None:
        """A partner's webhook, or None."""
        return self._t.webhooks.get(partner_id)

    def put(self, webhook: Webhook) -> None:
        """Store a partner's webhook, replacing the one it had."""
        self._undo.set(self._t.webhooks, webhook.partner_id, webhook)

    def remove(self, partner_id: str) -> bool:
        """Remove a partner's webhook; False when it had none."""
        if partner_id not in self._t.webhooks:
            return False
        self._undo.delete(self._t.webhooks, partner_id)
        return True

    def all(self) -> list[Webhook]:
        """Every webhook, by partner."""
        return [hook for _, hook in sorted(self._t.webhooks.items())]

    def add_delivery(self, delivery: Delivery) -> None:
        """Queue a new delivery; ConflictError when its id is stored already."""
        if delivery.id in self._t.deliveries:
            raise ConflictError(f"delivery {delivery.id!r} {EXISTS}")
        self._undo.set(self._t.deliveries, delivery.id, delivery)

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        return self._t.deliveries.get(delivery_id)

    def claim_delivery(self, now: datetime, lease_for: timedelta, token: str) -> Delivery | None:
        """The claimable delivery due first, claimed."""
        due = [d for d in self._t.deliveries.values() if d.claimable(now)]
        if not due:
            return None
        first = min(due, key=lambda d: (_due_at(d), d.created_at, d.id))
        claimed = first.claim(now, lease_for, token)
        assert claimed is not None
        self._undo.set(self._t.deliveries, claimed.id, claimed)
        return claimed

    def finish_delivery(self, token: str, finished: Delivery) -> bool:
        """Store `finished` if the delivery is still delivering under `token`."""
        stored = self._t.deliveries.get(finished.id)
        if stored is None or not stored.held_by(token):
            return False
        self._undo.set(self._t.deliveries, finished.id, finished)
        return True

    def deliveries(self, partner_id: str | None = None, *, limit: int = 50) -> list[Delivery]:
        """Newest first."""
        found = [d for d in self._t.deliveries.values() if partner_id is None or d.partner_id == partner_id]
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return found[:limit]

    def purge_deliveries(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete the oldest finished ones created before `before`, up to `limit`."""
        old = sorted(
            (d.created_at, d.id) for d in self._t.deliveries.values() if d.finished and d.created_at < before
        )
        for _, delivery_id in old[:limit]:
            self._undo.delete(self._t.deliveries, delivery_id)
        return len(old[:limit])


def _due_at(delivery: Delivery) -> datetime:
    """When a claimable delivery became due: its time, or its lapsed lease's end."""
    due: datetime = delivery.available_at if delivery.lease_until is None else delivery.lease_until
    return due
