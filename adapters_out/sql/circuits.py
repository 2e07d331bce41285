"""`partner_fetch_circuits`: the circuit breaker of each partner feed (ADR 0014, ADR 0040).

A replacement is one conditional statement, so it is atomic across processes: an INSERT
that does nothing when another writer stored the circuit first, or an UPDATE of the row
whose revision is still the one read. SQLite's writers hold its single write lock anyway,
and the revision also guards a value read in an earlier (read-only) unit of work. On
PostgreSQL, ON CONFLICT waits for the other writer's commit, and under READ COMMITTED a
concurrent UPDATE waits for the row lock and then rechecks the revision on the newest row
version: of two schedulers replacing one circuit, one succeeds and the other reads again,
so only one of them can take a probe.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.circuits import Circuit, CircuitKey, CircuitState

from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["CircuitRow", "SqlCircuitRepository", "circuit"]


class CircuitRow(NamedTuple):
    """The columns a circuit is read from and written to, in order; the first two are its key."""

    partner_id: str
    url_hash: str
    endpoint: str
    state: str
    failures: int
    opened_at: Any
    next_probe_at: Any
    probe_token: str | None
    probe_until: Any
    revision: int


_COLUMNS: Final = ", ".join(CircuitRow._fields)
_INSERT: Final = (
    f"INSERT INTO partner_fetch_circuits ({_COLUMNS}) VALUES ({', '.join('?' * len(CircuitRow._fields))})"
    " ON CONFLICT (partner_id, url_hash) DO NOTHING"
)
_UPDATE: Final = (
    "UPDATE partner_fetch_circuits SET "
    + ", ".join(f"{field} = ?" for field in CircuitRow._fields[2:])
    + " WHERE partner_id = ? AND url_hash = ? AND revision = ?"
)


def circuit(row: CircuitRow, d: Dialect) -> Circuit:
    """The circuit a row holds."""
    return Circuit(
        key=CircuitKey(partner_id=row.partner_id, url_hash=row.url_hash, endpoint=row.endpoint),
        state=CircuitState(row.state),
        failures=row.failures,
        opened_at=d.opt_from_time(row.opened_at),
        next_probe_at=d.opt_from_time(row.next_probe_at),
        probe_token=row.probe_token,
        probe_until=d.opt_from_time(row.probe_until),
        revision=row.revision,
    )


def _row(c: Circuit, revision: int, d: Dialect) -> CircuitRow:
    return CircuitRow(
        partner_id=d.text(c.key.partner_id),
        url_hash=c.key.url_hash,
        endpoint=d.text(c.key.endpoint),
        state=str(c.state),
        failures=c.failures,
        opened_at=d.opt_time(c.opened_at),
        next_probe_at=d.opt_time(c.next_probe_at),
        probe_token=c.probe_token,
        probe_until=d.opt_time(c.probe_until),
        revision=revision,
    )


class SqlCircuitRepository(SqlRepository):
    """Circuits of one connection's current transaction."""

    __slots__ = ()

    def get(self, key: CircuitKey) -> Circuit | None:
        """The stored circuit, or None."""
        row = self._run(
            f"SELECT {_COLUMNS} FROM partner_fetch_circuits WHERE partner_id = ? AND url_hash = ?",
            (key.partner_id, key.url_hash),
        ).fetchone()
        return None if row is None else circuit(CircuitRow._make(row), self._d)

    def all(self) -> list[Circuit]:
        """Every stored circuit, by partner and key."""
        rows = self._run(
            f"SELECT {_COLUMNS} FROM partner_fetch_circuits ORDER BY partner_id, url_hash"
        ).fetchall()
        return [circuit(CircuitRow._make(row), self._d) for row in rows]

    def replace(self, current: Circuit, new: Circuit) -> bool:
        """Store `new` if the stored circuit is still at `current`'s revision."""
        if (current.key.partner_id, current.key.url_hash) != (new.key.partner_id, new.key.url_hash):
            raise ValueError("a circuit can only be replaced by a circuit of the same key")
        row = _row(new, current.revision + 1, self._d)
        if current.revision == 0:
            cursor = self._run(_INSERT, row)
        else:
            cursor = self._run(_UPDATE, (*row[2:], *row[:2], current.revision))
        return cursor.rowcount == 1
