"""`partner_fetch_circuits`: the circuit breaker of each partner feed (ADR 0014).

A replacement is one conditional statement: an INSERT that does nothing when another
writer stored the circuit first, or an UPDATE of the row whose revision is still the one
read. Writers hold SQLite's single write lock anyway; the revision also guards a value
read in an earlier (read-only) unit of work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from partner_ingest.domain.model.circuits import Circuit, CircuitKey, CircuitState

from ._codec import opt_dt, opt_ts

__all__ = ["SqliteCircuitRepository"]

_FIELDS: Final = (
    "partner_id",
    "url_hash",
    "endpoint",
    "state",
    "failures",
    "opened_at",
    "next_probe_at",
    "probe_token",
    "probe_until",
    "revision",
)
_COLUMNS: Final = ", ".join(_FIELDS)
_INSERT: Final = (
    f"INSERT INTO partner_fetch_circuits ({_COLUMNS}) VALUES ({', '.join('?' * len(_FIELDS))})"
    " ON CONFLICT (partner_id, url_hash) DO NOTHING"
)
_UPDATE: Final = (
    "UPDATE partner_fetch_circuits SET "
    + ", ".join(f"{field} = ?" for field in _FIELDS[2:])
    + " WHERE partner_id = ? AND url_hash = ? AND revision = ?"
)


def _circuit(row: Sequence[Any]) -> Circuit:
    return Circuit(
        key=CircuitKey(partner_id=row[0], url_hash=row[1], endpoint=row[2]),
        state=CircuitState(row[3]),
        failures=row[4],
        opened_at=opt_dt(row[5]),
        next_probe_at=opt_dt(row[6]),
        probe_token=row[7],
        probe_until=opt_dt(row[8]),
        revision=row[9],
    )


def _values(circuit: Circuit, revision: int) -> tuple[Any, ...]:
    return (
        circuit.key.partner_id,
        circuit.key.url_hash,
        circuit.key.endpoint,
        str(circuit.state),
        circuit.failures,
        opt_ts(circuit.opened_at),
        opt_ts(circuit.next_probe_at),
        circuit.probe_token,
        opt_ts(circuit.probe_until),
        revision,
    )


class SqliteCircuitRepository:
    """Circuits of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, key: CircuitKey) -> Circuit | None:
        """The stored circuit, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_fetch_circuits WHERE partner_id = ? AND url_hash = ?",
            (key.partner_id, key.url_hash),
        ).fetchone()
        return None if row is None else _circuit(row)

    def all(self) -> list[Circuit]:
        """Every stored circuit, by partner and key."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_fetch_circuits ORDER BY partner_id, url_hash"
        )
        return [_circuit(row) for row in rows]

    def replace(self, current: Circuit, new: Circuit) -> bool:
        """Store `new` if the stored circuit is still at `current`'s revision."""
        if (current.key.partner_id, current.key.url_hash) != (new.key.partner_id, new.key.url_hash):
            raise ValueError("a circuit can only be replaced by a circuit of the same key")
        values = _values(new, current.revision + 1)
        if current.revision == 0:
            cursor = self._conn.execute(_INSERT, values)
        else:
            cursor = self._conn.execute(_UPDATE, (*values[2:], *values[:2], current.revision))
        return cursor.rowcount == 1
