"""In-memory repositories: every repository port over plain dicts, writes undoable."""

from __future__ import annotations

import itertools
import string
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import attrs

from partner_ingest.adapters_out.store_errors import EXISTS, IDEMPOTENCY_TAKEN
from partner_ingest.domain.model.api_keys import ApiKey, KeyRole
from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
from partner_ingest.domain.model.audit_chain import GENESIS, AuditLink, content_of_entry, link_hash
from partner_ingest.domain.model.changes import Change, ChangeKind
from partner_ingest.domain.model.errors import (
    ConflictError,
    IdempotencyKeyTaken,
    InvalidCursor,
    NotFoundError,
)
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.idempotency import FeedFingerprint
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.product import PARTNER_ID, SKU, Product, ProductRow
from partner_ingest.domain.model.repeats import record_repeats
from partner_ingest.domain.model.retirement import HeldFeed
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.ports.repositories import NameMatches, UpsertCounts, VersionUse

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = [
    "InMemoryApiKeyRepository",
    "InMemoryAuditLog",
    "InMemoryFeedImportLedger",
    "InMemoryChangeFeed",
    "InMemoryFeedSkuRegister",
    "InMemoryHeldFeedRepository",
    "InMemoryPartnerRepository",
    "InMemoryProductRepository",
    "InMemoryScheduleRepository",
]


class InMemoryProductRepository:
    """Products keyed by (partner_id, sku), stored as rows like the SQL stores; a retired
    product keeps its row and gets an entry in `retired`."""

    def __init__(
        self,
        table: dict[tuple[str, str], ProductRow],
        undo: UndoLog,
        retired: dict[tuple[str, str], datetime] | None = None,
        changes: InMemoryChangeFeed | None = None,
        written: dict[tuple[str, str], datetime] | None = None,
        feeds: dict[tuple[str, str], str | None] | None = None,
    ) -> None:
        self._table = table
        self._feeds = {} if feeds is None else feeds
        self._undo = undo
        self._retired = {} if retired is None else retired
        self._changes = changes
        self._written = {} if written is None else written

    def upsert(self, rows: Sequence[ProductRow], *, feed_id: str | None = None) -> UpsertCounts:
        """Insert new, rewrite changed (any value differs) or retired ones (restored), each
        recording `feed_id`; count the rest unchanged."""
        created = updated = 0
        retired = self._retired
        now = datetime.now(UTC)
        for row in rows:
            key = (row[PARTNER_ID], row[SKU])
            old = self._table.get(key)
            if old is None:
                created += 1
                kind = ChangeKind.CREATED
            elif key in retired:
                updated += 1
                self._undo.delete(retired, key)
                kind = ChangeKind.RESTORED
            elif old != row:
                updated += 1
                kind = ChangeKind.UPDATED
            else:
                continue
            self._undo.set(self._table, key, row)
            self._undo.set(self._written, key, now)
            self._undo.set(self._feeds, key, feed_id)
            self._record(key, kind, now)
        return UpsertCounts(created, updated, len(rows) - created - updated)

    def get(self, partner_id: str, sku: str, *, retired: bool = False) -> Product | None:
        """One product (active, or retired when asked), or None."""
        key = (partner_id, sku)
        row = self._table.get(key)
        if row is None or (key in self._retired) is not retired:
            return None
        return self._product(key)

    def _product(self, key: tuple[str, str]) -> Product:
        return Product.from_row(self._table[key], feed_id=self._feeds.get(key))

    def page(
        self,
        partner_id: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        retired: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        """A page in SKU order."""
        written = self._written
        skus = sorted(
            sku
            for pid, sku in self._table
            if pid == partner_id
            and (after_sku is None or sku > after_sku)
            and ((pid, sku) in self._retired) is retired
            and (updated_since is None or written.get((pid, sku), updated_since) >= updated_since)
        )
        return [self._product((partner_id, sku)) for sku in skus[:limit]]

    def search_names(
        self,
        partner_id: str,
        text: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        scan: int = 20_000,
    ) -> NameMatches:
        """Active products whose names hold `text`, ASCII case ignored (as SQLite's LIKE and the PostgreSQL query do),
        among the next `scan` products."""
        wanted = _ascii_lower(text)
        skus = sorted(
            sku for pid, sku in self._table if pid == partner_id and (after_sku is None or sku > after_sku)
        )
        window = skus[:scan]
        found = (self._product((partner_id, sku)) for sku in window if (partner_id, sku) not in self._retired)
        matches = list(itertools.islice((p for p in found if wanted in _ascii_lower(p.name)), limit))
        return NameMatches(matches, window[-1] if len(skus) > scan else None)

    def count(self, partner_id: str) -> int:
        """How many active products a partner has."""
        return sum(1 for key in self._table if key[0] == partner_id and key not in self._retired)

    def current(self, partner_id: str, skus: Sequence[str]) -> dict[str, ProductRow]:
        """The rows of those of `skus` that are active products."""
        out = {}
        for sku in skus:
            key = (partner_id, sku)
            row = self._table.get(key)
            if row is not None and key not in self._retired:
                out[sku] = row
        return out

    def retire(self, partner_id: str, skus: Sequence[str], at: datetime) -> int:
        """Retire the active ones of `skus`; how many were."""
        done = 0
        for sku in dict.fromkeys(skus):
            key = (partner_id, sku)
            if key in self._table and key not in self._retired:
                self._undo.set(self._retired, key, at)
                self._undo.set(self._written, key, at)
                self._record(key, ChangeKind.RETIRED, at)
                done += 1
        return done

    def _record(self, key: tuple[str, str], kind: ChangeKind, at: datetime) -> None:
        if self._changes is not None:
            self._changes.record(key[0], key[1], kind, at)

    def purge_retired(self, before: datetime) -> int:
        """Delete the products retired before `before`."""
        old = [key for key, at in self._retired.items() if at < before]
        for key in old:
            self._undo.delete(self._retired, key)
            self._undo.delete(self._table, key)
            if key in self._written:
                self._undo.delete(self._written, key)
            if key in self._feeds:
                self._undo.delete(self._feeds, key)
        return len(old)


_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


class InMemoryFeedSkuRegister:
    """The SKUs of the feed in progress, in a set (fine in memory: it is memory)."""

    def __init__(
        self,
        products: dict[tuple[str, str], ProductRow] | None = None,
        retired: dict[tuple[str, str], datetime] | None = None,
    ) -> None:
        self._seen: set[str] = set()
        self._products = {} if products is None else products
        self._retired = {} if retired is None else retired

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Record a batch; positions of SKUs seen before."""
        return record_repeats(self._seen, skus)

    def unseen(self, partner_id: str) -> list[str]:
        """The partner's active SKUs this feed has not named."""
        return sorted(
            sku
            for pid, sku in self._products
            if pid == partner_id and sku not in self._seen and (pid, sku) not in self._retired
        )


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

    def latest_applied(
        self, partner_id: str, *, matching: FeedFingerprint | None = None
    ) -> FeedImport | None:
        """The partner's most recent applied import; with `matching`, only if it has that fingerprint."""
        applied = [
            e for e in self._table.values() if e.partner_id == partner_id and e.status is ImportStatus.APPLIED
        ]
        latest = self._newest_first(applied, 1)[0] if applied else None
        if latest is None or (matching is not None and latest.fingerprint != matching):
            return None
        return latest

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

    def version_usage(self, since: datetime | None = None) -> list[VersionUse]:
        """Per version and partner: imports since `since`, and the latest one's time."""
        found: dict[tuple[int, str], VersionUse] = {}
        for e in self._table.values():
            if since is not None and e.completed_at < since:
                continue
            key = (e.version, e.partner_id)
            seen = found.get(key)
            if seen is None:
                found[key] = VersionUse(e.version, e.partner_id, 1, e.completed_at)
            else:
                found[key] = seen._replace(
                    imports=seen.imports + 1, last_at=max(seen.last_at, e.completed_at)
                )
        return [found[key] for key in sorted(found)]

    def held(self, partner_id: str | None = None) -> list[FeedImport]:
        """Held imports, oldest first."""
        entries = [
            e
            for e in self._table.values()
            if e.status is ImportStatus.HELD and (partner_id is None or e.partner_id == partner_id)
        ]
        return sorted(entries, key=lambda e: (e.completed_at, e.id))

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        """Held -> released or discarded."""
        entry = self._table.get(feed_id)
        if entry is None or entry.status is not ImportStatus.HELD:
            return False
        self._undo.set(self._table, feed_id, attrs.evolve(entry, status=status))
        return True


class InMemoryChangeFeed:
    """Change records in a list, numbered as written: the store's lock makes a unit of work
    the only writer from its start to its end, so writing order is commit order."""

    def __init__(self, records: list[Change], undo: UndoLog, numbers: dict[str, int] | None = None) -> None:
        self._records = records
        self._undo = undo
        # The last number given ("last"), apart from the records: a purge of every record never
        # hands a number out again, so a consumer's cursor never points before a newer change.
        self._numbers = {} if numbers is None else numbers

    def record(self, partner_id: str, sku: str, kind: ChangeKind, at: datetime) -> None:
        """Append one change (undone with the unit of work)."""
        number = self._numbers.get("last", 0) + 1
        self._undo.set(self._numbers, "last", number)
        self._undo.append(self._records, Change(str(number), partner_id, sku, kind, at))

    def after(self, cursor: str | None, *, limit: int = 100, partner_id: str | None = None) -> list[Change]:
        """Changes after `cursor`, oldest first."""
        start = _cursor_number(cursor)
        out = []
        for change in self._records:
            if int(change.cursor) > start and (partner_id is None or change.partner_id == partner_id):
                out.append(change)
                if len(out) >= limit:
                    break
        return out

    def end(self) -> str | None:
        """The newest change's cursor."""
        return self._records[-1].cursor if self._records else None

    def purge(self, before: datetime) -> int:
        """Delete the records older than `before`; how many were."""
        records = self._records
        kept = [c for c in records if c.at >= before]
        purged = len(records) - len(kept)
        if purged:
            self._undo.replace(records, kept)
        return purged


def _cursor_number(cursor: str | None) -> int:
    if cursor is None:
        return 0
    # The cursors SQLite's store refuses (past its 64-bit integers), refused alike.
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > 2**63 - 1:
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this store gave")
    return int(cursor)


class InMemoryHeldFeedRepository:
    """Held snapshots by feed id."""

    def __init__(self, table: dict[str, HeldFeed], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, held: HeldFeed) -> None:
        """Keep a held snapshot."""
        self._undo.set(self._table, held.feed_id, held)

    def get(self, feed_id: str) -> HeldFeed | None:
        """A held snapshot, or None."""
        return self._table.get(feed_id)

    def remove(self, feed_id: str) -> bool:
        """Forget a settled snapshot."""
        if feed_id not in self._table:
            return False
        self._undo.delete(self._table, feed_id)
        return True


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
        """Add entries in order, each chained to the one before (ADR 0028)."""
        with self._lock if self._lock is not None else nullcontext():
            for entry in entries:
                previous = self._entries[-1].hash if self._entries else None
                previous = GENESIS if previous is None else previous
                numbered = attrs.evolve(
                    entry,
                    id=len(self._entries) + 1,
                    previous_hash=previous,
                    hash=link_hash(previous, content_of_entry(entry)),
                )
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

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """Oldest first, the content recomputed from each entry as it is held now."""
        with self._lock if self._lock is not None else nullcontext():
            chosen = [e for e in self._entries if e.id is not None and e.id > after_id][:limit]
        return [AuditLink(e.id or 0, e.previous_hash, e.hash, content_of_entry(e)) for e in chosen]


def _in_service(key: ApiKey, now: datetime) -> bool:
    return key.revoked_at is None and (key.expires_at is None or now < key.expires_at)
