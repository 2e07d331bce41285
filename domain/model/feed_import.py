"""The feed-imports ledger entry: one per feed a partner sent, with its outcome."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from .idempotency import FeedFingerprint
from .report import IngestReport

__all__ = ["FeedImport", "ImportStatus"]


class ImportStatus(enum.StrEnum):
    """Where a feed import stands."""

    APPLIED = "applied"
    """Processed and committed (accepted or partial)."""
    REJECTED = "rejected"
    """Processed; nothing was written."""
    HELD = "held"
    """A snapshot stopped by the mass-delete guard: nothing written, waiting for an operator."""
    RELEASED = "released"
    """A held snapshot an operator released: applied by the import that names it (`released_by`
    in the audit trail)."""
    DISCARDED = "discarded"
    """A held snapshot an operator discarded: never applied."""


@attrs.frozen
class FeedImport:
    """A ledger row: written in the same transaction as the products it applied."""

    id: str
    partner_id: str
    format: str
    version: int
    content_hash: str
    """SHA-256 of the feed body as received (hex): identical content is not applied twice."""
    status: ImportStatus
    report: IngestReport
    received_at: datetime
    completed_at: datetime
    idempotency_key: str | None = None
    job_id: str | None = None
    fingerprint: FeedFingerprint | None = None
    """The body and the terms it was processed under; None for imports recorded before
    fingerprints were kept (such an import is never taken for a repeat)."""
