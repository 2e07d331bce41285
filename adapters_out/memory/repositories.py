"""In-memory repositories: every repository port over plain dicts, writes undoable."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from partner_ingest.adapters_out.store_errors import EXISTS, IDEMPOTENCY_TAKEN
from partner_ingest.domain.model.api_keys import ApiKey, KeyRole
from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
from partner_ingest.domain.model.errors import ConflictError, IdempotencyKeyTaken, NotFoundError
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.product import Product, ProductRow
from partner_ingest.domain.model.repeats import record_repeats
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.ports.repositories import UpsertCounts

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = [
    "InMemoryApiKeyRepository",
    "InMemoryAuditLog",
    "InMemoryFeedImportLedger",
    "InMemoryFeedSkuRegister",
    "InMemoryPartnerRepository",
    "InMemoryProductRepository",
    "InMemoryScheduleRepository",
]


class InMemoryProductRepository:
    """Products keyed by (partner_id, sku), stored as rows like the SQL stores."""

    def __init__(self, table: dict[tuple[str, str], ProductRow], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        """Insert new, rewrite changed (any value differs), count the rest unchanged."""
        created = updated = 0
        for row in rows:
            key = (row[0], row[1])
            old = self._table.get(key)
            if old is None:
                created += 1
            elif old != row:
                updated += 1
            else:
                continue
            self._undo.set(self._table, key, row)
        return UpsertCounts(created, updated, len(rows) - created - updated)

    def get(self, partner_id: str, sku: str) -> Product | None:
        """One product, or None."""
        row = self._table.get((partner_id, sku))
        return None if row is None else Product.from_row(row)

    def page(self, partner_id: str, *, after_sku: str | None = None, limit: int = 100) -> list[Product]:
        """A page in SKU order."""
        skus = sorted(
            sku for pid, sku in self._table if pid == partner_id and (after_sku is None or sku > after_sku)
        )
        return [Product.from_row(self._table[(partner_id, sku)]) for sku in skus[:limit]]

    def count(self, partner_id: str) -> int:
        """How many products a partner has."""
        return sum(1 for pid, _ in self._table if pid == partner_id)


class InMemoryFeedSkuRegister:
    """The SKUs of the feed in progress, in a set (fine in memory: it is memory)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Record a batch; positions of SKUs seen before."""
        return record_repeats(self._seen, skus)


class InMemoryFeedImportLedger:
    """Feed imports by id."""

    def __init__(self, table: dict[str, FeedImport], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, entry: FeedImport) -> None:
        """Record a processed feed."""
        if entry.id in self._table:
            raise ConflictError(f"feed import {entry.id!r} {EXISTS}")
        key = entry.idempotency_key
        if key is not None and any(
            e.partner_id == entry.partner_id and e.idempotency_key == key for e in self._table.values()
        ):
            raise IdempotencyKeyTaken(f"feed import {entry.id!r} {IDEMPOTENCY_TAKEN}")
        self._undo.set(self._table, entry.id, entry)

    def get(self, feed_id: str) -> FeedImport | None:
        """One entry, or None."""
        return self._table.get(feed_id)

    def latest_applied(self, partner_id: str) -> FeedImport | None:
        """The partner's most recent applied import."""
        applied = [
            e for e in self._table.values() if e.partner_id == partner_id and e.status is ImportStatus.APPLIED
        ]
        return self._newest_first(applied, 1)[0] if applied else None

    def recent(self, partner_id: str | None = None, *, limit: int = 50) -> list[FeedImport]:
        """Most recent first."""
        entries = [e for e in self._table.values() if partner_id is None or e.partner_id == partner_id]
        return self._newest_first(entries, limit)

    @staticmethod
    def _newest_first(entries: list[FeedImport], limit: int) -> list[FeedImport]:
        # Of imports completed at one instant the last added comes first, as the SQL stores
        # order them (rowid, seq): the table keeps the order entries were added in.
        ordered = sorted(enumerate(entries), key=lambda pair: (pair[1].completed_at, pair[0]), reverse=True)
        return [entry for _, entry in ordered[:limit]]


class InMemoryPartnerRepository:
    """Partners by id."""

    def __init__(self, table: dict[str, Partner], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, partner: Partner) -> None:
        """Store a new partner."""
        if partner.id in self._table:
            raise ConflictError(f"partner {partner.id!r} {EXISTS}")
        self._undo.set(self._table, partner.id, partner)

    def get(self, partner_id: str) -> Partner | None:
        """One partner, or None."""
        return self._table.get(partner_id)

    def update(self, partner: Partner) -> None:
        """Replace a stored partner."""
        if partner.id not in self._table:
            raise NotFoundError("partner", partner.id)
        self._undo.set(self._table, partner.id, partner)

    def all(self) -> list[Partner]:
        """Every partner, by id."""
        return [self._table[k] for k in sorted(self._table)]


class InMemoryApiKeyRepository:
    """API key records by id."""

    def __init__(self, table: dict[str, ApiKey], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, key: ApiKey) -> None:
        """Store a new key record."""
        if key.id in self._table:
            raise ConflictError(f"key {key.id!r} {EXISTS}")
        self._undo.set(self._table, key.id, key)

    def get(self, key_id: str) -> ApiKey | None:
        """One key record, or None."""
        return self._table.get(key_id)

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        """A partner's keys (admin keys when None), newest first."""
        keys = [
            k for k in self._table.values()
            if (k.partner_id == partner_id if partner_id is not None else k.role is KeyRole.ADMIN)
        ]  # fmt: skip
        return sorted(keys, key=lambda k: (k.created_at, k.id), reverse=True)

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke from `at` on; an earlier revocation stands."""
        key = self._table.get(key_id)
        if key is None:
            return False
        if key.revoked_at is None or key.revoked_at > at:
            self._undo.set(self._table, key_id, attrs.evolve(key, revoked_at=at))
        return True

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        key = self._table.get(key_id)
        if key is not None:
            self._undo.set(self._table, key_id, attrs.evolve(key, last_used_at=at))

    def count(self) -> int:
        """How many keys exist."""
        return len(self._table)

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        """Admin keys in service at `now`, by id (the unit of work's store lock holds them)."""
        return sorted(
            (k for k in self._table.values() if k.role is KeyRole.ADMIN and _in_service(k, now)),
            key=lambda k: k.id,
        )


class InMemoryScheduleRepository:
    """Schedules by id."""

    def __init__(self, table: dict[str, Schedule], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, schedule: Schedule) -> None:
        """Store a new schedule."""
        if schedule.id in self._table:
            raise ConflictError(f"schedule {schedule.id!r} {EXISTS}")
        self._undo.set(self._table, schedule.id, schedule)

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule, or None."""
        return self._table.get(schedule_id)

    def update(self, schedule: Schedule) -> None:
        """Replace a stored schedule."""
        if schedule.id not in self._table:
            raise NotFoundError("schedule", schedule.id)
        self._undo.set(self._table, schedule.id, schedule)

    def delete(self, schedule_id: str) -> bool:
        """Remove; False when unknown."""
        if schedule_id not in self._table:
            return False
        self._undo.delete(self._table, schedule_id)
        return True

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules by id."""
        return [s for k, s in sorted(self._table.items()) if partner_id is None or s.partner_id == partner_id]

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Due schedules, held until `hold_until`."""
        due = sorted(
            (s for s in self._table.values() if s.enabled and s.next_run_at <= now),
            key=lambda s: (s.next_run_at, s.id),
        )
        claimed = []
        for schedule in due[:limit]:
            self._undo.set(self._table, schedule.id, attrs.evolve(schedule, next_run_at=hold_until))
            claimed.append(schedule)
        return claimed


class InMemoryAuditLog:
    """Append-only: there is no method that changes or removes an entry."""

    def __init__(self, entries: list[AuditEntry], undo: UndoLog | None, lock: threading.RLock | None) -> None:
        self._entries = entries
        self._undo = undo
        self._lock = lock

    def append(self, entry: AuditEntry) -> None:
        """Add one entry (numbered in order)."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries in order."""
        with self._lock if self._lock is not None else nullcontext():
            for entry in entries:
                numbered = attrs.evolve(entry, id=len(self._entries) + 1)
                if self._undo is None:
                    self._entries.append(numbered)
                else:
                    self._undo.append(self._entries, numbered)

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""
        out = []
        for entry in reversed(self._entries):
            if query.before_id is not None and entry.id is not None and entry.id >= query.before_id:
                continue
            if query.since is not None and entry.at < query.since:
                continue
            if query.until is not None and entry.at >= query.until:
                continue
            if query.partner_id is not None and entry.partner_id != query.partner_id:
                continue
            if query.action is not None and entry.action is not query.action:
                continue
            if query.outcome is not None and entry.outcome is not query.outcome:
                continue
            out.append(entry)
            if len(out) >= query.limit:
                break
        return out


def _in_service(key: ApiKey, now: datetime) -> bool:
    return key.revoked_at is None and (key.expires_at is None or now < key.expires_at)
