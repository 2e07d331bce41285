"""`partner_held_feeds`: the body and the retirements of each held snapshot, until settled (ADR 0040)."""

from __future__ import annotations

import json
from typing import Final, NamedTuple

from partner_ingest.domain.model.retirement import HeldFeed

from .repository import SqlRepository

__all__ = ["HeldFeedRow", "SqlHeldFeedRepository", "held_feed"]


class HeldFeedRow(NamedTuple):
    """The columns a held snapshot is read from and written to, in order."""

    feed_id: str
    partner_id: str
    body: bytes
    retire: str


_COLUMNS: Final = ", ".join(HeldFeedRow._fields)


def held_feed(row: HeldFeedRow) -> HeldFeed:
    """The held snapshot a row holds."""
    return HeldFeed(row.feed_id, row.partner_id, bytes(row.body), tuple(json.loads(row.retire)))


class SqlHeldFeedRepository(SqlRepository):
    """Held snapshots of one connection's current transaction."""

    __slots__ = ()

    def add(self, held: HeldFeed) -> None:
        """Keep a held snapshot."""
        self._run(
            f"INSERT INTO partner_held_feeds ({_COLUMNS}) VALUES (?, ?, ?, ?)",
            HeldFeedRow(held.feed_id, held.partner_id, held.body, json.dumps(list(held.retire))),
        )

    def get(self, feed_id: str) -> HeldFeed | None:
        """A held snapshot, or None."""
        row = self._run(f"SELECT {_COLUMNS} FROM partner_held_feeds WHERE feed_id = ?", (feed_id,)).fetchone()
        return None if row is None else held_feed(HeldFeedRow._make(row))

    def remove(self, feed_id: str) -> bool:
        """Forget a settled snapshot."""
        return self._run("DELETE FROM partner_held_feeds WHERE feed_id = ?", (feed_id,)).rowcount == 1
