"""A feed as submitted and the terms it is processed under: what submitting a job (and so a
scheduled pull) needs of an ingest without the ingest itself, whose pipeline, validation and
contract rules a scheduler never runs (ADR 0042).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import BinaryIO, Protocol

import attrs

from partner_ingest.domain.model.errors import IdempotencyKeyReused, NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.feed_source import FeedContext
from partner_ingest.domain.model.idempotency import FeedFingerprint, KeyUse
from partner_ingest.domain.model.lifecycle import ContractLifecycle, VersionLifecycle
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.policy import PolicyOverrides, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.diagnostics import RejectionSpool
from partner_ingest.ports.formats import FeedFormat, FormatRegistry, for_partner
from partner_ingest.ports.unit_of_work import UnitOfWork

__all__ = [
    "FeedSubmission",
    "FeedTerms",
    "IngestStep",
    "Ingested",
    "StoredBody",
    "earlier_use",
    "resolve_format",
    "resolve_terms",
]


class StoredBody(abc.ABC):
    """A feed body kept in the store (a job's), readable only inside a unit of work."""

    @abc.abstractmethod
    def open(self, uow: UnitOfWork) -> AbstractContextManager[BinaryIO]:
        """The body as a stream, valid until the context is left."""


def _optional_feed_mode(value: FeedMode | str | None) -> FeedMode | None:
    # Typed as FeedMode, converted anyway: "snapshot" from a header, a setting or an untyped
    # caller must never be read as another mode by an `is` test.
    return None if value is None else FeedMode(value)


@attrs.frozen
class FeedSubmission:
    """One feed as handed to the use case, whatever delivered it (HTTP, job, CLI)."""

    partner_id: str
    body: BinaryIO | StoredBody = attrs.field(repr=False)
    format: str | None = None
    """Format name (json, jsonl, csv, xml); else taken from `media_type`, else the partner's."""
    media_type: str | None = None
    version: int | None = None
    """Feed version; else the partner's default; else 1."""
    overrides: PolicyOverrides = attrs.field(factory=PolicyOverrides)
    """What this feed asks to change of its partner's policy (only where the partner allows it)."""
    idempotency_key: str | None = None
    content_hash: str | None = None
    """SHA-256 (hex) of the body, when the caller knows it already. Otherwise it is computed
    before any work from a seekable body, and while streaming from any other (which then
    gets no repeat check: an Idempotency-Key needs a seekable body or its hash)."""
    dry_run: bool = False
    client: str | None = None
    job_id: str | None = None
    source: str = "push"
    on_items: Callable[[int], None] | None = attrs.field(default=None, eq=False, repr=False)
    """Told how many items were read so far, after each batch (a job's progress)."""
    replay_of: str | None = None
    """The import whose kept rejected items the body carries (one raw item per line, as
    diagnostics keep them): read as that import's format had parsed them (ADR 0033)."""
    feed_mode: FeedMode | None = attrs.field(default=None, converter=_optional_feed_mode)
    """upsert, snapshot or patch (ADR 0036); None: the partner's default."""
    release_of: str | None = None
    """The held snapshot this submission releases (its body, as an upsert, then exactly the
    retirements it was held with); see ReleaseHeldFeed."""
    partner: Partner | None = attrs.field(default=None, eq=False, repr=False)
    """The partner as the caller read it moments ago (the access check of the request), to be
    used instead of reading it again; None: read in the ingest's unit of work."""


@attrs.frozen
class Ingested:
    """What an `IngestStep` is told: the feed's report, and whether it was a repeat."""

    submission: FeedSubmission
    report: IngestReport
    repeat: bool
    """True: answered with an earlier report (same key, or same content under the same terms);
    nothing was processed."""
    rejections: RejectionSpool | None = None
    """Every error of every rejected item of the feed (None for a repeat)."""


class IngestStep(Protocol):
    """Work that must commit with a feed's outcome, or not at all."""

    def __call__(self, uow: UnitOfWork, ingested: Ingested) -> None:
        """Write into the ingest's unit of work; raise to roll the whole ingest back."""
        ...


@attrs.frozen
class FeedTerms:
    """Who sent a feed and the terms it is processed under."""

    partner: Partner
    format: FeedFormat
    policy: ValidationPolicy
    feed_mode: FeedMode = FeedMode.UPSERT
    lifecycle: VersionLifecycle | None = None
    """The version's lifecycle, when one is configured (a deprecated version's warning)."""

    def fingerprint(self, content_hash: str) -> FeedFingerprint:
        """The feed's fingerprint, for a body with this hash."""
        return FeedFingerprint(
            content_hash=content_hash,
            format=self.format.name,
            version=self.format.version,
            mode=self.policy.mode,
            atomic=self.policy.atomic,
            max_error_ratio=self.policy.max_error_ratio,
            feed_mode=self.feed_mode,
        )


def resolve_format(formats: FormatRegistry, partner: Partner, submission: FeedSubmission) -> FeedFormat:
    """Format from the request (name, else media type), else the partner's default;
    version from the request, else the partner's default (I2: v1 partners keep working)."""
    name = submission.format
    if name is None and submission.media_type:
        name = formats.name_for_media_type(submission.media_type)
    version = submission.version if submission.version is not None else partner.default_version
    return formats.get(name or partner.default_format, version)


def resolve_terms(
    uow: UnitOfWork,
    formats: FormatRegistry,
    submission: FeedSubmission,
    *,
    lifecycle: ContractLifecycle | None = None,
    now: datetime | None = None,
) -> FeedTerms:
    """The submission's partner (NotFoundError unless active), format and policy
    (PolicyOverrideDenied for an override the partner may not make); with a `lifecycle`,
    ContractVersionRetired for a version retired at `now`."""
    partner = submission.partner
    if partner is None or partner.id != submission.partner_id:
        partner = uow.partners.get(submission.partner_id)
    if partner is None or not partner.active:
        raise NotFoundError("partner", submission.partner_id)
    # The format bound to its partner: a plugin may read the partner's settings (a currency).
    fmt = for_partner(resolve_format(formats, partner, submission), FeedContext.of(partner))
    version = None
    if lifecycle is not None and now is not None:
        # Here: the contract's rules (and the currency table) load only with a lifecycle set.
        from partner_ingest.domain.model.rules import CONTRACTS

        version = lifecycle.check(fmt.version, CONTRACTS, now)
    if submission.replay_of is not None:
        from .replay import ReplayedFormat

        fmt = ReplayedFormat(fmt)
    feed_mode = submission.feed_mode or partner.feed_mode
    return FeedTerms(partner, fmt, partner.policy_for(submission.overrides), feed_mode, version)


def earlier_use(uow: UnitOfWork, partner_id: str, key: str, fingerprint: FeedFingerprint) -> KeyUse | None:
    """The first use of a partner's Idempotency-Key, if any; IdempotencyKeyReused when it was
    used for another request (the key space is shared by feeds and jobs)."""
    use = uow.idempotency_keys.get(partner_id, key)
    if use is not None:
        differs = fingerprint.differences(use.fingerprint)
        if differs:
            raise IdempotencyKeyReused(key, differs)
    return use
