"""Reads the SQLite writer's batch answers once for all its feeds (ADR 0046): a partner's
webhook (queued events), whether it has open diagnostics (the products it accepts close
them) and its latest applied import (the repeat check), each asked by every feed; the first
two nearly always the same answer, the third the import a feed of the batch just recorded.

Why an answer may be kept for the batch: the writer's batch holds SQLite's one write lock from
its BEGIN IMMEDIATE to its COMMIT, so no other connection changes a table while it runs; only
the batch's own units can. So an answer stays true until

- one of the batch's units writes the table it was read from, through its writer unit's
  repository (batch_repositories.py), which forgets the table's answers first (`KEEPS` lists
  the methods that cannot change them, and a test holds every other method of the shared
  repository to an override); the ledger's instead knows what its own new entry makes the
  partner's latest applied import: the entry, when applied and completed no earlier than the
  one known (a later row wins a tie, as the read's order has it), else the known one still; or
- a unit is undone (rolled back to its savepoint: what it wrote, and so what was read after
  it, is gone) or the transaction begins or ends (committed, rolled back, or lost on an
  error): the writer forgets every answer then (`BatchReads.clear`).

PostgreSQL's writer does not keep answers: READ COMMITTED lets another connection's commit
change them in the middle of a batch. This module imports no repository: the writer is made at
start-up, its repositories on first use (ADR 0042).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partner_ingest.adapters_out.sql.ledger import Latest
    from partner_ingest.domain.model.webhooks import Webhook

__all__ = ["BatchReads"]


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
