"""The in-memory circuit repository: circuits by (partner, URL digest), replaced by revision."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from partner_ingest.domain.model.circuits import Circuit, CircuitKey

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryCircuitRepository"]

_Row = tuple[str, str]


def _row(key: CircuitKey) -> _Row:
    return key.partner_id, key.url_hash


class InMemoryCircuitRepository:
    """Circuits of one unit of work; the store's lock makes each replacement atomic."""

    def __init__(self, table: dict[_Row, Circuit], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def get(self, key: CircuitKey) -> Circuit | None:
        """The stored circuit, or None."""
        return self._table.get(_row(key))

    def all(self) -> list[Circuit]:
        """Every stored circuit, by partner and key."""
        return [circuit for _, circuit in sorted(self._table.items())]

    def replace(self, current: Circuit, new: Circuit) -> bool:
        """Store `new` if the stored circuit is still at `current`'s revision."""
        row = _row(new.key)
        if _row(current.key) != row:
            raise ValueError("a circuit can only be replaced by a circuit of the same key")
        stored = self._table.get(row)
        if (0 if stored is None else stored.revision) != current.revision:
            return False
        self._undo.set(self._table, row, attrs.evolve(new, revision=current.revision + 1))
        return True
