"""`partner_held_feeds`: the body and the retirements of each held snapshot, until settled."""

from __future__ import annotations

import json
import sqlite3

from partner_ingest.domain.model.retirement import HeldFeed

__all__ = ["SqliteHeldFeedRepository"]


class SqliteHeldFeedRepository:
    """Held snapshots of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, held: HeldFeed) -> None:
        """Keep a held snapshot."""
        self._conn.execute(
            "INSERT INTO partner_held_feeds (feed_id, partner_id, body, retire) VALUES (?, ?, ?, ?)",
            (held.feed_id, held.partner_id, held.body, json.dumps(list(held.retire))),
        )

    def get(self, feed_id: str) -> HeldFeed | None:
        """A held snapshot, or None."""
        row = self._conn.execute(
            "SELECT feed_id, partner_id, body, retire FROM partner_held_feeds WHERE feed_id = ?", (feed_id,)
        ).fetchone()
        if row is None:
            return None
        return HeldFeed(row[0], row[1], bytes(row[2]), tuple(json.loads(row[3])))

    def remove(self, feed_id: str) -> bool:
        """Forget a settled snapshot."""
        return (
            self._conn.execute("DELETE FROM partner_held_feeds WHERE feed_id = ?", (feed_id,)).rowcount == 1
        )
