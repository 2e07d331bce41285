"""Reads the SQLite writer's batch answers once for all its feeds (ADR 0046): a partner's
webhook (queued events), whether it has open diagnostics (the products it accepts close
them) and its latest applied import (the repeat check), each asked by every feed; the first
two nearly always the same answer, the third the import a feed of the batch just recorded.

Why an answer may be kept for the batch: the writer's batch holds SQLite's one write lock from
its BEGIN IMMEDIATE to its COMMIT, so no other connection changes a table while it runs; only
the batch's own units can. So an answer stays true until

- one of the batch's units writes the table it was read from, through the repository here
  (the ledger's repository knows what its own new entry makes the partner's latest applied
  import: it, when applied and completed no earlier than the one known, ties going to the
  newer row as the read's order does; anything else forgets the answer)
  (every method that may change the table forgets its answers first: `KEEPS` lists the
  methods that cannot, and a test holds every other method of the shared repository to an
  override), or
- a unit is undone (rolled back to its savepoint: what it wrote, and so what was read after
  it, is gone) or the transaction ends (committed, rolled back, or lost on an error): the
  writer forgets every answer then (`BatchReads.clear`).

PostgreSQL's writer does not keep answers: READ COMMITTED lets another connection's commit
change them in the middle of a batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository
from partner_ingest.adapters_out.sql.ledger import Latest, SqlFeedImportLedger, fingerprint_text
from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus

from .dialect import SQLITE

if TYPE_CHECKING:
    from partner_ingest.domain.model.diagnostics import Diagnostic
    from partner_ingest.domain.model.webhooks import Webhook

__all__ = ["BatchDiagnostics", "BatchLedger", "BatchReads", "BatchWebhooks"]


class BatchReads:
    """The answers kept in the writer's current transaction, per table and partner."""

    def __init__(self) -> None:
        self.webhooks: dict[str, Webhook | None] = {}
        self.open_diagnostics: dict[str, bool] = {}
        self.latest_applied: dict[str, Latest | None] = {}

    def clear(self) -> None:
        """Forget every answer (a unit undone, the transaction ended)."""
        self.webhooks.clear()
        self.open_diagnostics.clear()
        self.latest_applied.clear()


class BatchWebhooks(SqlWebhookRepository):
    """The webhook repository of a writer unit: `get` answered once a batch per partner."""

    __slots__ = ("_reads",)

    KEEPS: Final = frozenset(
        {
            "get",
            "all",
            "delivery",
            "deliveries",
            "add_delivery",
            "claim_delivery",
            "finish_delivery",
            "purge_deliveries",
        }
    )
    """The methods that leave `partner_webhooks` as it is (they read, or write deliveries alone);
    every other one changes it, and forgets the kept webhooks first."""

    def __init__(self, conn: sqlite3.Connection, reads: BatchReads) -> None:
        super().__init__(conn, SQLITE)
        self._reads = reads

    def get(self, partner_id: str) -> Webhook | None:
        """A partner's webhook, or None (read once a batch)."""
        kept = self._reads.webhooks
        if partner_id in kept:
            return kept[partner_id]
        found = kept[partner_id] = super().get(partner_id)
        return found

    def put(self, webhook: Webhook) -> None:
        self._reads.webhooks.clear()
        super().put(webhook)

    def remove(self, partner_id: str) -> bool:
        self._reads.webhooks.clear()
        return super().remove(partner_id)


class BatchDiagnostics(SqlDiagnosticRepository):
    """The diagnostics repository of a writer unit: `has_open` answered once a batch per partner,
    until a unit of the batch writes diagnostics."""

    __slots__ = ("_reads",)

    KEEPS: Final = frozenset({"page", "summary", "latest_for_sku", "has_open", "open_items"})
    """The methods that only read; every other one writes, and forgets the kept answers first."""

    def __init__(self, conn: sqlite3.Connection, reads: BatchReads) -> None:
        super().__init__(conn, SQLITE)
        self._reads = reads

    def has_open(self, partner_id: str) -> bool:
        """Any diagnostic of the partner not resolved? (read once a batch)"""
        kept = self._reads.open_diagnostics
        found = kept.get(partner_id)
        if found is None:
            found = kept[partner_id] = super().has_open(partner_id)
        return found

    def add(self, diagnostics: Sequence[Diagnostic]) -> None:
        self._reads.open_diagnostics.clear()
        super().add(diagnostics)

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        self._reads.open_diagnostics.clear()
        return super().resolve(partner_id, skus, by_import, at)

    def purge(self, before: datetime, *, limit: int = 5000) -> int:
        self._reads.open_diagnostics.clear()
        return super().purge(before, limit=limit)


class BatchLedger(SqlFeedImportLedger):
    """The ledger of a writer unit: a partner's latest applied import read once a batch, and
    then known from the entries the batch's units add."""

    __slots__ = ("_reads",)

    KEEPS: Final = frozenset({"get", "latest_applied", "recent", "version_usage", "held"})
    """The methods that only read; every other one writes, and forgets the kept answers first
    (`add` says what its entry changes instead)."""

    def __init__(self, conn: sqlite3.Connection, reads: BatchReads) -> None:
        super().__init__(conn, SQLITE)
        self._reads = reads

    def _latest(self, partner_id: str) -> Latest | None:
        kept = self._reads.latest_applied
        if partner_id in kept:
            return kept[partner_id]
        found = kept[partner_id] = super()._latest(partner_id)
        return found

    def add(self, entry: FeedImport) -> None:
        fingerprint = fingerprint_text(entry)
        self._insert(entry, fingerprint)
        kept = self._reads.latest_applied
        if entry.status is not ImportStatus.APPLIED or entry.partner_id not in kept:
            return
        known = kept[entry.partner_id]
        completed = self._d.time(entry.completed_at)
        # The read orders by completion time, then by insertion: a later row wins a tie.
        if known is None or completed >= known.completed_at:
            kept[entry.partner_id] = Latest(entry.id, fingerprint, completed)

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        self._reads.latest_applied.clear()
        return super().settle(feed_id, status)
