"""`partner_product_changes`: the change feed, written by triggers on `product` (ADR 0037).

Statement triggers with transition tables (migration 0010) write a record for
every product row inserted or updated, in the same transaction, set-based. Ids
are drawn while transactions run, so they do not follow commit order: a reader
paging by id could read id 8 of a committed transaction and never see id 7 of
one that commits later. So each writing transaction is numbered AT COMMIT: the
unit of work takes a transaction-scoped advisory lock and inserts its commit
row (`number_commit`), then commits, and the lock is released only after the
commit is visible. Commit numbers therefore increase in commit order, and a
cursor is (commit number, record id): nothing committed later can sort before it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from partner_ingest.domain.model.changes import Change, ChangeKind
from partner_ingest.domain.model.errors import InvalidCursor

from .connection import Connection

__all__ = ["PostgresChangeFeed", "number_commit"]

_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.partner_product_change_commits'))"
_NUMBER: Final = "INSERT INTO partner_product_change_commits (tx) VALUES (pg_current_xact_id()) ON CONFLICT (tx) DO NOTHING"
_SELECT: Final = (
    "SELECT k.seq, c.id, c.partner_id, c.sku, c.kind, c.at FROM partner_product_change_commits AS k"
    " JOIN partner_product_changes AS c ON c.tx = k.tx WHERE (k.seq, c.id) > (%s, %s)"
)


def number_commit(conn: Connection) -> None:
    """Give the transaction on `conn` the next commit number; call last before COMMIT."""
    conn.execute(_LOCK)
    conn.execute(_NUMBER)


class PostgresChangeFeed:
    """The change records of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def after(self, cursor: str | None, *, limit: int = 100, partner_id: str | None = None) -> list[Change]:
        """Committed changes after `cursor`, in commit order."""
        seq, record = _position(cursor)
        if partner_id is None:
            rows = self._conn.execute(f"{_SELECT} ORDER BY k.seq, c.id LIMIT %s", (seq, record, limit))
        else:
            rows = self._conn.execute(
                f"{_SELECT} AND c.partner_id = %s ORDER BY k.seq, c.id LIMIT %s",
                (seq, record, partner_id, limit),
            )
        return [Change(f"{r[0]}.{r[1]}", r[2], r[3], ChangeKind(r[4]), r[5]) for r in rows]

    def end(self) -> str | None:
        """The newest committed change's cursor (commit numbers follow commit order: see above)."""
        row = self._conn.execute(
            "SELECT k.seq, c.id FROM partner_product_change_commits AS k"
            " JOIN partner_product_changes AS c ON c.tx = k.tx ORDER BY k.seq DESC, c.id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else f"{row[0]}.{row[1]}"

    def purge(self, before: datetime) -> int:
        """Delete the records older than `before`, and the commits left with none."""
        deleted = self._conn.execute("DELETE FROM partner_product_changes WHERE at < %s", (before,)).rowcount
        self._conn.execute(
            "DELETE FROM partner_product_change_commits AS k WHERE k.seq < (SELECT max(seq) FROM"
            " partner_product_change_commits) AND NOT EXISTS (SELECT 1 FROM partner_product_changes AS c"
            " WHERE c.tx = k.tx)"
        )
        return deleted


def _position(cursor: str | None) -> tuple[int, int]:
    if cursor is None:
        return 0, 0
    seq, dot, record = cursor.partition(".")
    # Each part a bigint: a larger one is refused, never sent as a numeric the columns cannot hold.
    if not (
        dot
        and all(part.isascii() and part.isdigit() and int(part) <= 2**63 - 1 for part in (seq, record))
        and len(cursor) <= 40
    ):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this store gave")
    return int(seq), int(record)
