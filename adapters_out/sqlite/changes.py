"""`partner_product_changes`: the change feed, written with the products (ADR 0037).

The product repository (products.py) writes a record for every product it
creates, updates, retires or restores, set-based after each batch, in the same
transaction (a trigger on `product` made every upsert much slower). SQLite has one
writer at a time, holding the write lock from its first write to its commit, so
record ids increase in commit order and a cursor is the last id read.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from partner_ingest.domain.model.changes import Change, ChangeKind
from partner_ingest.domain.model.errors import InvalidCursor

from .connection import from_timestamp, timestamp

__all__ = ["SqliteChangeFeed"]

_SELECT = "SELECT id, partner_id, sku, kind, at FROM partner_product_changes"


class SqliteChangeFeed:
    """The change records of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def after(self, cursor: str | None, *, limit: int = 100, partner_id: str | None = None) -> list[Change]:
        """Committed changes after `cursor`, in commit order."""
        start = _number(cursor)
        if partner_id is None:
            rows = self._conn.execute(f"{_SELECT} WHERE id > ? ORDER BY id LIMIT ?", (start, limit))
        else:
            rows = self._conn.execute(
                f"{_SELECT} WHERE partner_id = ? AND id > ? ORDER BY id LIMIT ?", (partner_id, start, limit)
            )
        return [Change(str(r[0]), r[1], r[2], ChangeKind(r[3]), from_timestamp(r[4])) for r in rows]

    def purge(self, before: datetime) -> int:
        """Delete the records older than `before` (AUTOINCREMENT never hands their ids out again)."""
        return self._conn.execute(
            "DELETE FROM partner_product_changes WHERE at < ?", (timestamp(before),)
        ).rowcount


def _number(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 19:
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this store gave")
    return int(cursor)
