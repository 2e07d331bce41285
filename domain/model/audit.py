"""Audit entries: the append-only trail of every security-relevant event."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = ["AuditAction", "AuditEntry", "AuditQuery", "Outcome"]

AuditDetail = str | int | float | bool | None


class AuditAction(enum.StrEnum):
    """What happened. New actions are added, never renamed (operators query by them)."""

    AUTH_FAILED = "auth.failed"
    AUTH_THROTTLED = "auth.throttled"
    RATE_LIMITED = "rate.limited"
    ADMIN_DENIED = "admin.denied"
    ADMIN_ACTION = "admin.action"
    FEED_INGESTED = "feed.ingested"
    FEED_REJECTED = "feed.rejected"
    ITEM_REJECTED = "feed.item_rejected"
    FEED_DUPLICATE = "feed.duplicate"
    IMPORT_REPLAYED = "import.replayed"
    FEED_HELD = "feed.held"
    FEED_RELEASED = "feed.released"
    FEED_DISCARDED = "feed.discarded"
    JOB_SUBMITTED = "job.submitted"
    JOB_FAILED = "job.failed"
    JOB_DEAD = "job.dead"
    JOB_CANCELLED = "job.cancelled"
    FETCH = "fetch"
    FETCH_SKIPPED = "fetch.skipped"
    FETCH_ANOMALY = "fetch_anomaly"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    KEY_ROTATED = "key.rotated"
    PARTNER_CHANGED = "partner.changed"
    CREDENTIALS_CHANGED = "credentials.changed"
    WEBHOOK_CHANGED = "webhook.changed"
    WEBHOOK_DISABLED = "webhook.disabled"


class Outcome(enum.StrEnum):
    """How it ended."""

    SUCCESS = "success"
    DENIED = "denied"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen
class AuditEntry:
    """One event. `details` holds scalars only and never a secret."""

    at: datetime
    action: AuditAction
    outcome: Outcome
    actor: str
    """Who acted: a partner id, `admin:<key id>`, `anonymous` or `system`."""
    partner_id: str | None = None
    client: str | None = None
    """Network address of the caller, where there is one."""
    details: Mapping[str, AuditDetail] = attrs.field(factory=dict)
    id: int | None = None
    """Assigned by the audit log when stored."""
    previous_hash: str | None = attrs.field(default=None, eq=False)
    """Assigned by the audit log when stored: the hash of the entry before (ADR 0028)."""
    hash: str | None = attrs.field(default=None, eq=False)
    """Assigned by the audit log when stored: over this entry's content and `previous_hash`."""


@attrs.frozen
class AuditQuery:
    """A filter over the audit trail; every part is optional."""

    since: datetime | None = None
    until: datetime | None = None
    partner_id: str | None = None
    action: AuditAction | None = None
    outcome: Outcome | None = None
    limit: int = 100
    before_id: int | None = None
    """Page backwards: only entries with an id below this one."""
