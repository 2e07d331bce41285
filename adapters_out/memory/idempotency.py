"""Each partner's Idempotency-Keys in memory, and the request each was first used for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_ingest.adapters_out.store_errors import IDEMPOTENCY_TAKEN
from partner_ingest.domain.model.errors import IdempotencyKeyTaken
from partner_ingest.domain.model.idempotency import KeyUse

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryIdempotencyKeys"]


class InMemoryIdempotencyKeys:
    """Key uses by (partner, key)."""

    def __init__(self, table: dict[tuple[str, str], KeyUse], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, use: KeyUse) -> None:
        """Record a key's first use; IdempotencyKeyTaken when the partner used it already."""
        if (use.partner_id, use.key) in self._table:
            raise IdempotencyKeyTaken(f"Idempotency-Key {use.key!r} {IDEMPOTENCY_TAKEN}")
        self._undo.set(self._table, (use.partner_id, use.key), use)

    def get(self, partner_id: str, key: str) -> KeyUse | None:
        """The first use of a partner's key, or None."""
        return self._table.get((partner_id, key))
