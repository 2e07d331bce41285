"""The repository ports: one Protocol per aggregate, all reached through a unit of work.

Every implementation (memory, SQLite, PostgreSQL) passes the same contract
test suite (tests/integration/contracts/), so the in-memory fakes embedders
use in their own tests behave like the real stores.

The model types are named in annotations only, so they are imported for the type checker:
a command that types a port does not load every aggregate's model (ADR 0042).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, Protocol

if TYPE_CHECKING:
    from partner_ingest.domain.model.api_keys import ApiKey
    from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
    from partner_ingest.domain.model.audit_chain import AuditLink
    from partner_ingest.domain.model.changes import Change
    from partner_ingest.domain.model.circuits import Circuit, CircuitKey
    from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
    from partner_ingest.domain.model.idempotency import FeedFingerprint, KeyUse
    from partner_ingest.domain.model.jobs import BodyRetention, Job, JobStatus, Lease
    from partner_ingest.domain.model.partner import Partner
    from partner_ingest.domain.model.product import Product, ProductRow
    from partner_ingest.domain.model.report import IngestReport
    from partner_ingest.domain.model.retirement import HeldFeed
    from partner_ingest.domain.model.schedules import Schedule
    from partner_ingest.domain.model.web_sessions import WebSession
    from partner_ingest.domain.model.webhooks import Delivery, Webhook

__all__ = [
    "ApiKeyRepository",
    "AuditLog",
    "ChangeFeed",
    "CircuitRepository",
    "FeedImportLedger",
    "FeedSkuRegister",
    "HeldFeedRepository",
    "IdempotencyKeyRepository",
    "JobRepository",
    "PartnerRepository",
    "ProductRepository",
    "ScheduleRepository",
    "StoredBodies",
    "NameMatches",
    "UpsertCounts",
    "VersionUse",
    "WebhookRepository",
    "WebSessionRepository",
]


class UpsertCounts(NamedTuple):
    """What one batch upsert did, counted by the store itself, not guessed."""

    created: int
    updated: int
    unchanged: int


class NameMatches(NamedTuple):
    """What one bounded name search found, and how far it looked."""

    products: list[Product]
    scanned_to: str | None
    """The last SKU examined when the scan window filled before the catalog ended (a later
    search may start after it); None when the scan reached the partner's last product."""


class ProductRepository(Protocol):
    """The canonical products, keyed by (partner_id, sku)."""

    def upsert(self, rows: Sequence[ProductRow], *, feed_id: str | None = None) -> UpsertCounts:
        """Insert new products, rewrite changed ones (content hash differs), leave the rest.

        The rows of one call have distinct (partner_id, sku) keys. `feed_id`, the import that
        writes them, is recorded on every row the call inserts, rewrites or restores (read back
        as `Product.feed_id`); an unchanged product keeps the import that wrote its values
        (ADR 0033).
        """

    def get(self, partner_id: str, sku: str, *, retired: bool = False) -> Product | None:
        """One active product, or None; `retired=True`: one retired product, or None."""

    def page(
        self,
        partner_id: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        retired: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        """A page of a partner's active products (`retired=True`: its retired ones) in SKU
        order, starting after `after_sku`; `updated_since`: only those written (created,
        updated, retired or restored) at or after that instant."""

    def search_names(
        self,
        partner_id: str,
        text: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        scan: int = 20_000,
    ) -> NameMatches:
        """Up to `limit` of a partner's active products whose name contains `text`, ignoring ASCII case,
        in SKU order after `after_sku`, among the next `scan` products at most (so one search
        costs a bounded scan however rare the name). `%`, `_` and `\\` in `text` are plain."""

    def count(self, partner_id: str) -> int:
        """How many active products a partner has."""

    def current(self, partner_id: str, skus: Sequence[str]) -> dict[str, ProductRow]:
        """The stored rows of those of `skus` that are active products (what a patch merges into)."""

    def retire(self, partner_id: str, skus: Sequence[str], at: datetime) -> int:
        """Retire those of `skus` that are active products; how many were. An upsert of a
        retired SKU restores it. A retirement writes no values, so each keeps the import
        that wrote its values (`Product.feed_id`)."""

    def purge_retired(self, before: datetime) -> int:
        """Delete the products retired before `before` (their history stays in the audit
        trail); how many were."""


class FeedSkuRegister(Protocol):
    """The SKUs seen so far in the feed being ingested (lives as long as its unit of work).

    It is a port, not a Python set in the use case, because a feed of a million
    products would hold a million strings in memory; the SQLite and PostgreSQL
    implementations keep them in a temporary table instead.
    """

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Record a batch of SKUs; return the positions of those seen before (earlier in the
        feed, or earlier in this batch), in ascending order."""

    def unseen(self, partner_id: str) -> list[str]:
        """The partner's active products whose SKU this feed has not named (what a snapshot
        retires), in SKU order."""


class FeedImportLedger(Protocol):
    """`partner_feed_imports`: one entry per processed feed."""

    def add(self, entry: FeedImport) -> None:
        """Record a processed feed; ConflictError when its id is stored already, and
        IdempotencyKeyTaken when its partner's `idempotency_key` is (whoever stored it,
        however recently)."""

    def get(self, feed_id: str) -> FeedImport | None:
        """One entry, or None."""

    def latest_applied(
        self, partner_id: str, *, matching: FeedFingerprint | None = None
    ) -> FeedImport | None:
        """The partner's most recent applied import (for identical-content detection); with
        `matching`, None unless that import's fingerprint is this one (a store may then skip
        reading the rest of an entry that does not match)."""

    def recent(self, partner_id: str | None = None, *, limit: int = 50) -> list[FeedImport]:
        """Most recent first."""

    def version_usage(self, since: datetime | None = None) -> list[VersionUse]:
        """Per contract version and partner, the imports completed at or after `since` (all when
        None) and the latest one's time; by version, then partner."""

    def held(self, partner_id: str | None = None) -> list[FeedImport]:
        """The imports held by the mass-delete guard and not yet settled, oldest first."""

    def settle(self, feed_id: str, status: ImportStatus) -> bool:
        """Mark a held import released or discarded; False, and nothing written, when it is
        not held (any more: another operator settled it first)."""


class VersionUse(NamedTuple):
    """How much a partner sent under one contract version (admins: who still sends a deprecated one)."""

    version: int
    partner_id: str
    imports: int
    last_at: datetime


class ChangeFeed(Protocol):
    """`partner_product_changes`: the change records the product writes leave (ADR 0037)."""

    def after(self, cursor: str | None, *, limit: int = 100, partner_id: str | None = None) -> list[Change]:
        """Committed changes after `cursor` (None: from the oldest kept), in commit order;
        InvalidCursor for a cursor this store never gave."""

    def end(self) -> str | None:
        """The cursor of the newest committed change (None: none is kept): what a follower that
        only needs the changes from now on starts after (the product cache's, ADR 0017)."""

    def purge(self, before: datetime) -> int:
        """Delete the change records older than `before`; how many were."""


class HeldFeedRepository(Protocol):
    """`partner_held_feeds`: the body and the retirements of each held snapshot, until settled."""

    def add(self, held: HeldFeed) -> None:
        """Keep a held snapshot."""

    def get(self, feed_id: str) -> HeldFeed | None:
        """A held snapshot, or None."""

    def remove(self, feed_id: str) -> bool:
        """Forget a settled snapshot; False when unknown."""


class IdempotencyKeyRepository(Protocol):
    """`partner_idempotency_keys`: one key space per partner, shared by feeds processed at once
    and feeds submitted as jobs."""

    def add(self, use: KeyUse) -> None:
        """Record a key's first use; IdempotencyKeyTaken when the partner's key is stored
        already (whoever stored it, however recently)."""

    def get(self, partner_id: str, key: str) -> KeyUse | None:
        """The first use of a partner's key, or None."""


class StoredBodies(NamedTuple):
    """The feed bodies a store keeps: how many, and their bytes (metrics)."""

    bodies: int
    total_bytes: int


class JobRepository(Protocol):
    """`partner_ingest_jobs`: the durable queue, with leases so a job is applied once.

    Every change of a job is one of the transitions of `Job` (domain/model/jobs.py),
    with exactly its rules: the methods below answer False (or None) where the
    transition's method would, and change nothing then.
    """

    def add(self, job: Job, body: BinaryIO) -> None:
        """Store a new job and its feed body (read to the end), last in its partner's submission
        order; ConflictError when its id, or its partner's `idempotency_key`, is stored already
        (whoever stored it, however recently)."""

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""

    def open_body(self, job_id: str) -> BinaryIO:
        """The stored feed body, as a stream; NotFoundError when there is none (never stored, or purged)."""

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Job | None:
        """`Job.claim` on the job `next_claim` picks (one running job per partner, a partner's
        jobs in submission order, the partner served least recently first), recorded as its
        partner's latest claim; None when no job is claimable. Claims made at once by several
        workers never give one partner two running jobs."""

    def renew(self, lease: Lease, until: datetime) -> bool:
        """`Job.renew`: push the lease further; False when the lease is no longer held."""

    def record_progress(self, lease: Lease, items_read: int, bytes_read: int) -> bool:
        """`Job.progressed`: how far the feed has been read; False when the lease is no longer held."""

    def complete(self, lease: Lease, report: IngestReport, now: datetime) -> bool:
        """`Job.complete`: succeeded with its report; False (and no change) when the lease is lost."""

    def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> bool:
        """`Job.fail`: queued again, due at retry_at, or dead when None; False when the lease is lost."""

    def release(self, lease: Lease, now: datetime) -> bool:
        """`Job.release`: given back untouched, the attempt not counted; False when the lease is lost."""

    def revive(self, job_id: str, now: datetime) -> bool:
        """`Job.revive`: an admin's retry of a dead job whose body is kept; False otherwise."""

    def cancel(self, job_id: str, now: datetime) -> bool:
        """`Job.cancel`: a queued or running job cancelled (a running one loses its lease);
        False when it is unknown or finished already."""

    def purge_bodies(self, retention: BodyRetention, now: datetime, *, limit: int = 500) -> int:
        """`Job.purge_body` on up to `limit` finished jobs whose bodies `retention` lets go,
        oldest first: their bodies deleted. How many were purged."""

    def stored_bodies(self) -> StoredBodies:
        """The bodies kept now (every open job's, and finished ones not purged yet)."""

    def recent(
        self, *, partner_id: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[Job]:
        """Most recent first."""

    def status_counts(self) -> Mapping[JobStatus, int]:
        """Jobs per status (queue depth for metrics)."""


class PartnerRepository(Protocol):
    """`partner`: who may send feeds, and how."""

    def add(self, partner: Partner) -> None:
        """Store a new partner; ConflictError when the id exists."""

    def get(self, partner_id: str) -> Partner | None:
        """One partner, or None."""

    def update(self, partner: Partner) -> None:
        """Replace a stored partner; NotFoundError when absent."""

    def all(self) -> list[Partner]:
        """Every partner, by id."""


class ApiKeyRepository(Protocol):
    """`partner_api_keys`: hashes of issued keys, never the keys."""

    def add(self, key: ApiKey) -> None:
        """Store a new key record."""

    def get(self, key_id: str) -> ApiKey | None:
        """One key record by its public id, or None."""

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        """Keys of a partner (or the admin keys when None), newest first."""

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke from `at` on (an earlier revocation stands); False when unknown."""

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a successful use."""

    def count(self) -> int:
        """How many keys exist at all (first start creates the admin key when 0)."""

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        """The admin keys in service at `now` (neither revoked, nor being rotated out, nor
        expired), by id, held until this unit of work ends: another unit of work asking the
        same waits, then sees this one's changes, so two that each revoke one of the last two
        admin keys cannot both count the other as remaining."""


class ScheduleRepository(Protocol):
    """Partner feed pull schedules."""

    def add(self, schedule: Schedule) -> None:
        """Store a new schedule."""

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule, or None."""

    def update(self, schedule: Schedule) -> None:
        """Replace a stored schedule."""

    def delete(self, schedule_id: str) -> bool:
        """Remove; False when unknown."""

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules, by id."""

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Enabled schedules due at `now`, pushed to `hold_until` so that no other scheduler
        acts on them meanwhile (the caller sets the real next run when done)."""


class CircuitRepository(Protocol):
    """`partner_fetch_circuits`: the circuit breaker of each partner feed, shared by every process.

    The transitions are the domain's (`Circuit.admit`, `Circuit.record`); the store only
    replaces one value by the next, atomically, so two processes never both take a probe
    or lose each other's failures.
    """

    def get(self, key: CircuitKey) -> Circuit | None:
        """The stored circuit, or None (a circuit never stored is closed)."""

    def all(self) -> list[Circuit]:
        """Every stored circuit, by partner and key."""

    def replace(self, current: Circuit, new: Circuit) -> bool:
        """Store `new` in place of `current` if the stored circuit is still `current` (the same
        revision; revision 0: none stored); it is stored with the next revision. False, and
        nothing written, when another writer replaced it first: read it again and retry."""


class AuditLog(Protocol):
    """`partner_ingest_audit`: append-only. There is no update and no delete."""

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Add several entries at once."""

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching the query, newest first."""

    def links(self, after_id: int, limit: int) -> list[AuditLink]:
        """The chain links of up to `limit` entries with an id above `after_id`, oldest first (ADR 0028)."""


class WebhookRepository(Protocol):
    """`partner_webhooks` and `partner_webhook_deliveries`: each partner's completion webhook and
    the events queued for it (ADR 0034).

    A delivery changes only by the transitions of `Delivery` (domain/model/webhooks.py):
    `claim_delivery` applies `Delivery.claim`, `finish_delivery` stores what `succeed` or
    `fail` made of it, and only while the attempt's lease token still holds.
    """

    def get(self, partner_id: str) -> Webhook | None:
        """A partner's webhook, or None."""

    def put(self, webhook: Webhook) -> None:
        """Store a partner's webhook, replacing the one it had."""

    def remove(self, partner_id: str) -> bool:
        """Remove a partner's webhook (its delivery log stays); False when it had none."""

    def all(self) -> list[Webhook]:
        """Every webhook, by partner."""

    def add_delivery(self, delivery: Delivery) -> None:
        """Queue a new delivery; ConflictError when its id is stored already."""

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""

    def claim_delivery(self, now: datetime, lease_for: timedelta, token: str) -> Delivery | None:
        """`Delivery.claim` on the claimable delivery due first (then oldest, then by id); None
        when none is. Two claimers never get the same delivery."""

    def finish_delivery(self, token: str, finished: Delivery) -> bool:
        """Store `finished` (what `succeed` or `fail` returned) over the delivery of the same id,
        if it is still delivering under `token`; False, and nothing written, otherwise."""

    def deliveries(self, partner_id: str | None = None, *, limit: int = 50) -> list[Delivery]:
        """Deliveries, newest first (by creation, then id)."""

    def purge_deliveries(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete up to `limit` of the finished deliveries (`Delivery.finished`) created before
        `before`, oldest first; how many. A pending or delivering one stays, however old."""


class WebSessionRepository(Protocol):
    """`partner_web_sessions`: the sessions of the portal and the console, by token digest."""

    def add(self, session: WebSession) -> None:
        """Store a new session (its digest is new: tokens are random)."""

    def get(self, token_hash: str) -> WebSession | None:
        """The session of this digest, expired or not; None when unknown or ended."""

    def delete(self, token_hash: str) -> bool:
        """End one session; False when there was none."""

    def delete_expired(self, now: datetime) -> int:
        """Forget every session whose expiry is at or before `now`; how many."""
