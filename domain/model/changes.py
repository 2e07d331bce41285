"""The change feed: one record per product created, updated, retired or restored (ADR 0037).

Every write of a product writes its change record in the same transaction (the
stores do it: SQL triggers, or the in-memory repository), so a consumer that
pages by cursor sees every committed change exactly once, in commit order. A
cursor is opaque text: the stores order it (SQLite and memory: one number, since
one writer commits at a time; PostgreSQL: the commit's number then the record's).
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["Change", "ChangeKind"]


class ChangeKind(enum.StrEnum):
    """What happened to the product."""

    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    RESTORED = "restored"


@attrs.frozen
class Change:
    """One change of one product, at the position `cursor` in the feed."""

    cursor: str
    partner_id: str
    sku: str
    kind: ChangeKind
    at: datetime

    def to_json(self) -> dict[str, str]:
        """Plain JSON form."""
        return {
            "cursor": self.cursor,
            "partner_id": self.partner_id,
            "sku": self.sku,
            "kind": str(self.kind),
            "at": self.at.isoformat(),
        }
