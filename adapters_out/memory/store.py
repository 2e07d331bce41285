"""The in-memory store and its unit of work: real transactions over Python dicts.

A product feature, not a test double: embedders run the real use cases on it
in their own (property-based) tests, and it passes the same contract suite as
SQLite and PostgreSQL. One lock serializes units of work (like SQLite's single
writer); an undo log makes rollback exact without copying the data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import attrs

from partner_ingest.domain.model.api_keys import ApiKey
from partner_ingest.domain.model.audit import AuditEntry
from partner_ingest.domain.model.changes import Change
from partner_ingest.domain.model.circuits import Circuit
from partner_ingest.domain.model.diagnostics import Diagnostic
from partner_ingest.domain.model.feed_import import FeedImport
from partner_ingest.domain.model.idempotency import KeyUse
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.retirement import HeldFeed
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.domain.model.web_sessions import WebSession

from .circuits import InMemoryCircuitRepository
from .diagnostics import InMemoryDiagnosticRepository
from .idempotency import InMemoryIdempotencyKeys
from .jobs import InMemoryJobRepository, JobTables
from .repositories import (
    InMemoryApiKeyRepository,
    InMemoryAuditLog,
    InMemoryChangeFeed,
    InMemoryFeedImportLedger,
    InMemoryFeedSkuRegister,
    InMemoryHeldFeedRepository,
    InMemoryPartnerRepository,
    InMemoryProductRepository,
    InMemoryScheduleRepository,
)
from .web_sessions import InMemoryWebSessionRepository
from .webhooks import InMemoryWebhookRepository, WebhookTables

__all__ = ["InMemoryStore", "InMemoryUnitOfWork", "UndoLog"]

_MISSING: Any = object()


class UndoLog:
    """Remembers the previous value of every key written, to restore them on rollback."""

    def __init__(self) -> None:
        self._entries: list[Callable[[], object]] = []

    def set(self, table: dict[Any, Any], key: object, value: object) -> None:
        """table[key] = value, undoably."""
        old = table.get(key, _MISSING)
        self._entries.append(lambda: _restore(table, key, old))
        table[key] = value

    def delete(self, table: dict[Any, Any], key: object) -> None:
        """del table[key], undoably."""
        old = table.pop(key, _MISSING)
        self._entries.append(lambda: _restore(table, key, old))

    def append(self, items: list[Any], value: object) -> None:
        """items.append(value), undoably."""
        items.append(value)
        self._entries.append(items.pop)

    def replace(self, items: list[Any], values: list[Any]) -> None:
        """items[:] = values, undoably."""
        old = list(items)
        items[:] = values
        self._entries.append(lambda: items.__setitem__(slice(None), old))

    def undo(self) -> None:
        """Restore everything, newest change first."""
        while self._entries:
            self._entries.pop()()

    def forget(self) -> None:
        """Keep the changes (commit)."""
        self._entries.clear()


def _restore(table: dict[Any, Any], key: object, old: object) -> None:
    if old is _MISSING:
        table.pop(key, None)
    else:
        table[key] = old


@attrs.define
class _Tables:
    products: dict[tuple[str, str], ProductRow] = attrs.Factory(dict)
    retired: dict[tuple[str, str], datetime] = attrs.Factory(dict)
    """When each retired product was retired (its row stays in `products`)."""
    written: dict[tuple[str, str], datetime] = attrs.Factory(dict)
    """When each product was last written (its updated_at: `updated_since` reads)."""
    feeds: dict[tuple[str, str], str | None] = attrs.Factory(dict)
    """The import that wrote each product's values (its feed_id column)."""
    imports: dict[str, FeedImport] = attrs.Factory(dict)
    held_feeds: dict[str, HeldFeed] = attrs.Factory(dict)
    changes: list[Change] = attrs.Factory(list)
    change_numbers: dict[str, int] = attrs.Factory(dict)
    idempotency_keys: dict[tuple[str, str], KeyUse] = attrs.Factory(dict)
    jobs: JobTables = attrs.Factory(JobTables)
    partners: dict[str, Partner] = attrs.Factory(dict)
    api_keys: dict[str, ApiKey] = attrs.Factory(dict)
    schedules: dict[str, Schedule] = attrs.Factory(dict)
    audit: list[AuditEntry] = attrs.Factory(list)
    circuits: dict[tuple[str, str], Circuit] = attrs.Factory(dict)
    webhooks: WebhookTables = attrs.Factory(WebhookTables)
    diagnostics: dict[tuple[str, int], Diagnostic] = attrs.Factory(dict)
    web_sessions: dict[str, WebSession] = attrs.Factory(dict)


class InMemoryStore:
    """Every table in memory; `unit_of_work` is the UnitOfWorkFactory to hand to use cases."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self._lock = threading.RLock()
        self.commits = 0
        """How many units of work committed (handy for asserting on end state)."""

    def unit_of_work(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        """A new unit of work over this store."""
        return InMemoryUnitOfWork(self, self._lock, read_only=read_only)

    @property
    def audit_log(self) -> InMemoryAuditLog:
        """The audit log outside any transaction (each append is its own commit)."""
        return InMemoryAuditLog(self.tables.audit, None, self._lock)


class InMemoryUnitOfWork:
    """One transaction over an `InMemoryStore`."""

    def __init__(self, store: InMemoryStore, lock: threading.RLock, *, read_only: bool = False) -> None:
        self._store = store
        self._lock = lock
        self._undo = UndoLog()
        self.read_only = read_only
        self.committed = False
        t = store.tables
        undo = self._undo
        self.changes = InMemoryChangeFeed(t.changes, undo, t.change_numbers)
        self.products = InMemoryProductRepository(
            t.products, undo, t.retired, self.changes, t.written, t.feeds
        )
        self.feed_skus = InMemoryFeedSkuRegister(t.products, t.retired)
        self.imports = InMemoryFeedImportLedger(t.imports, undo)
        self.held_feeds = InMemoryHeldFeedRepository(t.held_feeds, undo)
        self.idempotency_keys = InMemoryIdempotencyKeys(t.idempotency_keys, undo)
        self.jobs = InMemoryJobRepository(t.jobs, undo)
        self.partners = InMemoryPartnerRepository(t.partners, undo)
        self.api_keys = InMemoryApiKeyRepository(t.api_keys, undo)
        self.schedules = InMemoryScheduleRepository(t.schedules, undo)
        self.audit = InMemoryAuditLog(t.audit, undo, None)
        self.circuits = InMemoryCircuitRepository(t.circuits, undo)
        self.webhooks = InMemoryWebhookRepository(t.webhooks, undo)
        self.diagnostics = InMemoryDiagnosticRepository(t.diagnostics, undo)
        self.web_sessions = InMemoryWebSessionRepository(t.web_sessions, undo)

    def __enter__(self) -> Self:
        self._lock.acquire()
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._lock.release()

    def commit(self) -> None:
        """Keep every change made in this unit of work."""
        if self.read_only:
            self._undo.undo()
            raise PermissionError("a read-only unit of work cannot commit changes")
        self._undo.forget()
        self.committed = True
        self._store.commits += 1

    def rollback(self) -> None:
        """Undo every change not committed."""
        self._undo.undo()
