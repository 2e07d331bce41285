"""Use case: ingest one partner feed now (synchronously) and report on every item.

The products, the ledger entry and the audit entries of a feed are written in
one unit of work: a crash, a malformed document, an atomic feed with an invalid
item or a blown error budget leaves the product table exactly as it was.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, IngestError, NotFoundError
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.feed_source import FeedContext
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.policy import FeedLimits, ValidationPolicy
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.report import FeedStatus, IngestReport
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.formats import FeedFormat, FormatRegistry, for_partner
from partner_ingest.ports.parsing import FeedParsing
from partner_ingest.ports.repositories import UpsertCounts
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .pipeline import FeedOutcome, HashingReader, run_feed

__all__ = ["FeedSubmission", "IngestFeed", "PolicyOverrideDenied", "effective_policy", "resolve_format"]


class PolicyOverrideDenied(IngestError):
    """The request asked for its own validation policy; this partner may not."""

    code = "policy_override_denied"


@attrs.frozen
class FeedSubmission:
    """One feed as handed to the use case, whatever delivered it (HTTP, job, CLI)."""

    partner_id: str
    body: BinaryIO = attrs.field(repr=False)
    format: str | None = None
    """Format name (json, jsonl, csv, xml); else taken from `media_type`, else the partner's."""
    media_type: str | None = None
    version: int | None = None
    """Feed version; else the partner's default; else 1."""
    policy: ValidationPolicy | None = None
    """A per-request policy; only for partners that allow overrides."""
    idempotency_key: str | None = None
    content_hash: str | None = None
    """SHA-256 (hex) of the body when the caller already knows it: then a feed identical to the
    partner's latest applied one is recognized before any work and answered with its report
    (the HTTP layer always passes it). Otherwise it is computed while streaming, for the
    ledger only, and the feed is processed again."""
    dry_run: bool = False
    client: str | None = None
    job_id: str | None = None
    source: str = "push"


def resolve_format(formats: FormatRegistry, partner: Partner, submission: FeedSubmission) -> FeedFormat:
    """Format from the request (name, else media type), else the partner's default;
    version from the request, else the partner's default (I2: v1 partners keep working)."""
    name = submission.format
    if name is None and submission.media_type:
        name = formats.name_for_media_type(submission.media_type)
    version = submission.version if submission.version is not None else partner.default_version
    return formats.get(name or partner.default_format, version)


def effective_policy(partner: Partner, requested: ValidationPolicy | None) -> ValidationPolicy:
    """The partner's policy, or the one the request asks for where the partner allows it."""
    if requested is None or requested == partner.policy:
        return partner.policy
    if not partner.allow_policy_override:
        raise PolicyOverrideDenied(f"partner {partner.id!r} may not choose its own validation policy")
    return requested


class IngestFeed:
    """Parse, validate, normalize and upsert one feed; return its report."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        formats: FormatRegistry,
        clock: Clock,
        ids: IdSource,
        *,
        limits: FeedLimits | None = None,
        batch_size: int = 1000,
        errors_cap: int = 100,
        parsing: FeedParsing | None = None,
    ) -> None:
        """`parsing` says where feeds are parsed and validated: here by default, or in a
        parser process (`ParserProcesses`, ADR 0019) so that parsing overlaps writing."""
        self._uow = uow
        self._formats = formats
        self._clock = clock
        self._ids = ids
        self._limits = limits or FeedLimits()
        self._batch_size = batch_size
        self._errors_cap = errors_cap
        self._parsing = parsing

    def __call__(self, submission: FeedSubmission) -> IngestReport:
        """Ingest now. Raises only for what the caller must answer itself (unknown partner,
        format or version, a refused policy override); everything about the feed's content
        is in the report.

        Two requests under one Idempotency-Key at the same moment (a client's retry that a
        load balancer sends to another instance) both find no import under the key; the
        ledger takes the first one's entry and refuses the other's (ConflictError), whose
        products roll back with it: it answers with the first one's report, as a duplicate.
        """
        try:
            return self._ingest(submission)
        except ConflictError:
            if submission.idempotency_key is None or submission.dry_run:
                raise
            # The conflict came once the other request had committed: a new unit of work sees it.
            with self._uow() as uow:
                earlier = self.earlier_report(uow, submission)
                if earlier is None:
                    raise
                uow.commit()
            return earlier

    def _ingest(self, submission: FeedSubmission) -> IngestReport:
        with self._uow() as uow:
            earlier = self.earlier_report(uow, submission)
            if earlier is not None:
                uow.commit()
                return earlier
            report = self.apply(uow, submission)
            if report.applied and not report.dry_run:
                uow.commit()
                return report
            uow.rollback()
        if not report.dry_run:
            with self._uow() as uow:
                self.record(uow, submission, report)
                uow.commit()
        return report

    def earlier_report(self, uow: UnitOfWork, submission: FeedSubmission) -> IngestReport | None:
        """The report to answer again instead of processing: same Idempotency-Key, or the
        same content as the partner's latest applied feed. Audited as a duplicate."""
        if submission.dry_run:
            return None
        found: FeedImport | None = None
        if submission.idempotency_key is not None:
            found = uow.imports.by_idempotency_key(submission.partner_id, submission.idempotency_key)
        if found is None and submission.content_hash is not None:
            latest = uow.imports.latest_applied(submission.partner_id)
            if latest is not None and latest.content_hash == submission.content_hash:
                found = latest
        if found is None:
            return None
        uow.audit.append(
            self._audit(submission, AuditAction.FEED_DUPLICATE, Outcome.SKIPPED, {"feed_id": found.id})
        )
        return found.report

    def apply(self, uow: UnitOfWork, submission: FeedSubmission) -> IngestReport:
        """Run the feed through the pipeline into `uow` and, when it applies, add its ledger
        and audit entries there too. The caller commits when `report.applied`."""
        partner = uow.partners.get(submission.partner_id)
        if partner is None or not partner.active:
            raise NotFoundError("partner", submission.partner_id)
        fmt = for_partner(resolve_format(self._formats, partner, submission), FeedContext.of(partner))
        policy = effective_policy(partner, submission.policy)
        validator = ItemValidator(
            contract_for(fmt.version),
            policy.mode,
            textual=fmt.textual,
            partner_id=partner.id,
            limits=self._limits,
        )
        received_at = self._clock.now()
        # The body is hashed while it streams, unless the caller hashed it already.
        hashing = None if submission.content_hash else HashingReader(submission.body)
        stream: BinaryIO = submission.body if hashing is None else io.BufferedReader(hashing, 1 << 20)
        outcome = run_feed(
            fmt,
            stream,
            validator,
            policy,
            self._limits,
            _StoreSink(uow),
            batch_size=self._batch_size,
            errors_cap=self._errors_cap,
            parsing=self._parsing,
        )
        report = self._report(submission, fmt, outcome)
        if report.applied and not report.dry_run:
            content_hash = submission.content_hash or (hashing.hexdigest() if hashing else "")
            self.record(uow, submission, report, received_at=received_at, content_hash=content_hash)
        return report

    def record(
        self,
        uow: UnitOfWork,
        submission: FeedSubmission,
        report: IngestReport,
        *,
        received_at: datetime | None = None,
        content_hash: str | None = None,
    ) -> None:
        """Write the ledger entry and the audit entries of a processed feed into `uow`."""
        now = self._clock.now()
        uow.imports.add(
            FeedImport(
                id=report.feed_id,
                partner_id=report.partner_id,
                format=report.format,
                version=report.version,
                content_hash=content_hash or submission.content_hash or "",
                status=ImportStatus.APPLIED if report.applied else ImportStatus.REJECTED,
                report=report,
                received_at=received_at or now,
                completed_at=now,
                idempotency_key=submission.idempotency_key,
                job_id=submission.job_id,
            )
        )
        counts = report.counts
        summary: dict[str, str | int | float | bool | None] = {
            "feed_id": report.feed_id,
            "format": report.format,
            "version": report.version,
            "status": str(report.status),
            "received": counts.received,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "rejected": counts.rejected,
            "source": submission.source,
        }
        if report.feed_error is not None:
            summary["feed_error"] = str(report.feed_error.code)
        entries = [
            self._audit(
                submission,
                AuditAction.FEED_INGESTED if report.applied else AuditAction.FEED_REJECTED,
                Outcome.SUCCESS if report.status is FeedStatus.ACCEPTED else Outcome.REJECTED,
                summary,
            )
        ]
        # S2: every reported rejection is audited (the report caps them, and so does this).
        entries.extend(
            self._audit(
                submission,
                AuditAction.ITEM_REJECTED,
                Outcome.REJECTED,
                {
                    "feed_id": report.feed_id,
                    "index": e.index,
                    "sku": e.sku,
                    "field": e.field,
                    "code": str(e.code),
                },
            )
            for e in report.errors
        )
        uow.audit.append_many(entries)

    def _report(self, submission: FeedSubmission, fmt: FeedFormat, outcome: FeedOutcome) -> IngestReport:
        return outcome.report(
            self._ids.new_id("feed"), submission.partner_id, fmt, dry_run=submission.dry_run
        )

    def _audit(
        self,
        submission: FeedSubmission,
        action: AuditAction,
        outcome: Outcome,
        details: dict[str, str | int | float | bool | None],
    ) -> AuditEntry:
        return AuditEntry(
            at=self._clock.now(),
            action=action,
            outcome=outcome,
            actor=submission.partner_id,
            partner_id=submission.partner_id,
            client=submission.client,
            details=details,
        )


class _StoreSink:
    """Routes the pipeline's writes into a unit of work (called once per batch)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def repeated(self, skus: Sequence[str]) -> list[int]:
        return self._uow.feed_skus.repeated(skus)

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        return self._uow.products.upsert(rows)
