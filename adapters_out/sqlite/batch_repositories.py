"""The repositories of the SQLite writer's units that keep answers for the batch, by the rules
of batch_reads.py (ADR 0046): a partner's webhook, whether it has open diagnostics, and its
latest applied import."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository
from partner_ingest.adapters_out.sql.ledger import (
    COMPLETED_AT,
    INSERT_IMPORT,
    Latest,
    SqlFeedImportLedger,
    fingerprint_text,
    import_row,
)
from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus

from .dialect import SQLITE

if TYPE_CHECKING:
    from partner_ingest.domain.model.diagnostics import Diagnostic
    from partner_ingest.domain.model.webhooks import Webhook

    from .batch_reads import BatchReads

__all__ = ["BatchDiagnostics", "BatchLedger", "BatchWebhooks"]


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
        row = import_row(entry, fingerprint, SQLITE)
        try:
            self._conn.execute(INSERT_IMPORT, row)
        except sqlite3.IntegrityError as error:
            raise SQLITE.conflict(f"feed import {entry.id!r}", error) from None
        kept = self._reads.latest_applied
        if entry.status is not ImportStatus.APPLIED or entry.partner_id not in kept:
            return
        known = kept[entry.partner_id]
        completed = row[COMPLETED_AT]
        # The read orders by completion time, then by insertion: a later row wins a tie.
        if known is None or completed >= known.completed_at:
            kept[entry.partner_id] = Latest(entry.id, fingerprint, completed)

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        self._reads.latest_applied.clear()
        return super().settle(feed_id, status)
