"""Use case: ingest one partner feed, all of it in one unit of work, with steps that commit with it.

A feed's products, its ledger entry, its Idempotency-Key, its audit entries and
whatever else must stand or fall with them (a job's completion, and later
change records, kept diagnostics, queued notifications) are written in ONE
unit of work: a crash, a malformed document, an atomic feed with an invalid
item or a blown error budget leaves the store exactly as it was. Callers add
their part as an `IngestStep`; no caller repeats the commit logic.

The order, in one unit of work:
1. resolve the partner, the format and version, the policy (the partner's, with
   the submission's overrides where the partner allows them);
2. a repeat is answered with the earlier report and nothing is processed: the
   same Idempotency-Key with the same request, or the same content under the
   same terms as the partner's latest applied feed (`FeedFingerprint`); the same
   key with a different request is refused (`IdempotencyKeyReused`);
3. run the pipeline; if the feed applies, record it (ledger, key, audit), run
   the steps, commit. A rejected feed rolls its products back, and its record
   and the steps commit in a second unit of work.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.diagnostics import Rejection
from partner_ingest.domain.model.errors import (
    ConflictError,
    IdempotencyKeyNamesJob,
    IdempotencyKeyTaken,
    NotFoundError,
)
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.idempotency import FeedFingerprint, KeyUse
from partner_ingest.domain.model.jobs import JobStatus
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import SKU, ProductRow
from partner_ingest.domain.model.report import ErrorCode, FeedError, FeedStatus, IngestCounts, IngestReport
from partner_ingest.domain.model.retirement import HeldFeed, RetirementGuard
from partner_ingest.domain.model.rules import CONTRACTS
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.diagnostics import RejectionSpool, RejectionSpools
from partner_ingest.ports.formats import FormatRegistry
from partner_ingest.ports.parsing import FeedParsing
from partner_ingest.ports.repositories import UpsertCounts
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .diagnostics import KeepDiagnostics, MemorySpool
from .feed_terms import (
    FeedSubmission,
    FeedTerms,
    Ingested,
    IngestStep,
    StoredBody,
    earlier_use,
    resolve_terms,
)
from .pipeline import PARSE_HERE, HashingReader, reading_for, run_feed

__all__ = ["IngestFeed"]

_HASH_STEP: Final = 1 << 20


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
        fast_validator: bool = True,
        steps: Sequence[IngestStep] = (),
        lifecycle: ContractLifecycle | None = None,
        spools: RejectionSpools | None = None,
        guard: RetirementGuard | None = None,
    ) -> None:
        """`parsing` says where feeds are parsed and validated: here by default, or in a
        parser process (`ParserProcesses`, ADR 0019) so that parsing overlaps writing.
        `fast_validator=False` validates every item with the reference validator alone.
        `steps` run in every ingest, after the caller's own (queued webhook events).
        `lifecycle` refuses retired contract versions and warns about deprecated ones.
        `spools` hold a feed's rejections until the diagnostics step writes them: in memory
        by default, in a temporary file with `FileRejectionSpools` (bounded memory)."""
        self._uow = uow
        self._formats = formats
        self._clock = clock
        self._ids = ids
        self._limits = limits or FeedLimits()
        self._batch_size = batch_size
        self._errors_cap = errors_cap
        self._parsing = parsing or PARSE_HERE
        self._fast_validator = fast_validator
        self._steps = tuple(steps)
        self._lifecycle = lifecycle
        self._spools: RejectionSpools = spools or MemorySpool
        self._keep = KeepDiagnostics(clock, batch_size=batch_size)
        self._guard = guard or RetirementGuard()

    def __call__(self, submission: FeedSubmission, *, steps: Sequence[IngestStep] = ()) -> IngestReport:
        """Ingest now, with `steps` in the same unit of work. Raises only for what the caller
        must answer itself (unknown partner, format or version, a refused policy override, a
        reused Idempotency-Key); everything about the feed's content is in the report.

        Two requests under one Idempotency-Key at the same moment (a client's retry that a
        load balancer sends to another instance) both find the key unused; the store takes
        the first one's and refuses the other's (IdempotencyKeyTaken), whose products roll
        back with it: it runs again, finds the key, and answers as a repeat of the first.
        """
        submission = _with_content_hash(submission)
        steps = (*steps, *self._steps)
        try:
            return self._ingest(submission, steps)
        except IdempotencyKeyTaken:
            return self._ingest(submission, steps)

    def _ingest(self, submission: FeedSubmission, steps: Sequence[IngestStep]) -> IngestReport:
        spool = self._spools()
        try:
            return self._ingest_into(submission, [self._keep, *steps], spool)
        finally:
            spool.close()

    def _ingest_into(
        self, submission: FeedSubmission, steps: Sequence[IngestStep], spool: RejectionSpool
    ) -> IngestReport:
        with self._uow() as uow:
            terms = resolve_terms(
                uow, self._formats, submission, lifecycle=self._lifecycle, now=self._clock.now()
            )
            # Made once: the repeat check and the ledger entry both need it.
            known = None if submission.content_hash is None else terms.fingerprint(submission.content_hash)
            earlier = self._earlier_report(uow, submission, known)
            if earlier is not None:
                _run(steps, uow, Ingested(submission, earlier, repeat=True))
                uow.commit()
                return earlier
            received_at = self._clock.now()
            start = _start_of(submission.body)
            # The guard weighs a snapshot against the products active before it: counted now,
            # since the feed may restore retired ones.
            snapshot = terms.feed_mode is FeedMode.SNAPSHOT and submission.release_of is None
            active = uow.products.count(submission.partner_id) if snapshot else 0
            report, content_hash = self._apply(uow, submission, terms, spool)
            held: tuple[str, ...] = ()
            if report.applied:
                report, held = self._retirements(uow, submission, terms, report, active)
            if report.dry_run:
                uow.rollback()
                return report
            if report.applied:
                self._record(uow, submission, terms, report, content_hash, received_at, known)
                _run(steps, uow, Ingested(submission, report, repeat=False, rejections=spool))
                uow.commit()
                return report
            uow.rollback()
        with self._uow() as uow:
            kept: HeldFeed | None = None
            if report.status is FeedStatus.HELD:
                report, kept = self._hold(uow, submission, report, start, held)
            self._record(uow, submission, terms, report, content_hash, received_at, known)
            if kept is not None:
                uow.held_feeds.add(kept)
            _run(steps, uow, Ingested(submission, report, repeat=False, rejections=spool))
            uow.commit()
        return report

    def _earlier_report(
        self, uow: UnitOfWork, submission: FeedSubmission, fingerprint: FeedFingerprint | None
    ) -> IngestReport | None:
        """The report to answer again instead of processing (a repeat), audited as a duplicate;
        `fingerprint`: the feed's, when its body's hash is known."""
        if submission.dry_run or fingerprint is None or submission.release_of is not None:
            return None
        report: IngestReport | None = None
        feed_id: str | None = None
        if submission.idempotency_key is not None:
            use = earlier_use(uow, submission.partner_id, submission.idempotency_key, fingerprint)
            if use is not None:
                report = _report_of(uow, use)
                feed_id = report.feed_id
        if report is None:
            latest = uow.imports.latest_applied(submission.partner_id, matching=fingerprint)
            if latest is None or latest.fingerprint != fingerprint:
                return None
            report, feed_id = latest.report, latest.id
            if submission.idempotency_key is not None:  # the key now names that import
                key = submission.idempotency_key
                uow.idempotency_keys.add(
                    KeyUse(report.partner_id, key, fingerprint, self._clock.now(), feed_id=feed_id)
                )
        uow.audit.append(
            self._audit(submission, AuditAction.FEED_DUPLICATE, Outcome.SKIPPED, {"feed_id": feed_id})
        )
        return report

    def _apply(
        self, uow: UnitOfWork, submission: FeedSubmission, terms: FeedTerms, spool: RejectionSpool
    ) -> tuple[IngestReport, str]:
        """Run the feed through the pipeline into `uow`; the report and the body's hash."""
        fmt, policy = terms.format, terms.policy
        feed_id = self._ids.new_id("feed")
        reading = reading_for(
            fmt,
            policy.mode,
            partner_id=terms.partner.id,
            limits=self._limits,
            batch_size=self._batch_size,
            fast_validator=self._fast_validator,
            feed_mode=terms.feed_mode,
        )
        with _open(submission.body, uow) as body:
            # The body is hashed while it streams, unless its hash is known already.
            hashing = None if submission.content_hash else HashingReader(body)
            stream: BinaryIO = body if hashing is None else io.BufferedReader(hashing, 1 << 20)
            outcome = run_feed(
                fmt,
                reading,
                stream,
                policy,
                _StoreSink(uow, spool, terms.partner.id, feed_id, self._clock),
                errors_cap=self._errors_cap,
                parsing=self._parsing,
                on_items=submission.on_items,
            )
        content_hash = submission.content_hash or (hashing.hexdigest() if hashing else "")
        report = outcome.report(feed_id, submission.partner_id, fmt, dry_run=submission.dry_run)
        if terms.lifecycle is not None:
            warning = terms.lifecycle.warning(self._clock.now(), CONTRACTS)
            if warning is not None:
                report = attrs.evolve(report, warnings=(*report.warnings, warning))
        return report, content_hash

    def _retirements(
        self,
        uow: UnitOfWork,
        submission: FeedSubmission,
        terms: FeedTerms,
        report: IngestReport,
        active: int,
    ) -> tuple[IngestReport, tuple[str, ...]]:
        """The retirement step of an applied feed: a release retires what its held snapshot
        would have; a snapshot retires the partner's active products it did not name, unless
        the mass-delete guard holds it (then the report says held, with what it would retire);
        `active`: the partner's active products before the snapshot.

        Only reached for a feed read to its end and applied (a feed error, an atomic feed with
        an invalid item or a blown error budget rejects the whole feed, which retires nothing);
        an invalid item's SKU counts as named, so a typo in one item never retires its product.
        """
        partner_id = report.partner_id
        if submission.release_of is not None:
            held = uow.held_feeds.get(submission.release_of)
            if held is None or not uow.imports.settle(submission.release_of, ImportStatus.RELEASED):
                raise ConflictError(f"feed import {submission.release_of!r} is not held (any more)")
            uow.held_feeds.remove(held.feed_id)
            absent: Sequence[str] = held.retire
        elif terms.feed_mode is FeedMode.SNAPSHOT:
            absent = uow.feed_skus.unseen(partner_id)
            if self._guard.holds(len(absent), active):
                counts = attrs.evolve(report.counts, retired=len(absent))
                status = report.status if report.dry_run else FeedStatus.HELD
                return attrs.evolve(report, status=status, counts=counts), tuple(absent)
        else:
            return report, ()
        retired = 0
        now = self._clock.now()
        for start in range(0, len(absent), self._batch_size):
            retired += uow.products.retire(partner_id, absent[start : start + self._batch_size], now)
        return attrs.evolve(report, counts=attrs.evolve(report.counts, retired=retired)), ()

    def _hold(
        self,
        uow: UnitOfWork,
        submission: FeedSubmission,
        report: IngestReport,
        start: int | None,
        retire: tuple[str, ...],
    ) -> tuple[IngestReport, HeldFeed | None]:
        """Keep a held snapshot's body and retirements for its release; a body that cannot be
        read again (a pipe) cannot be kept, and the snapshot is rejected instead."""
        body = submission.body
        if isinstance(body, StoredBody):
            with body.open(uow) as stream:
                kept = stream.read()
        elif start is not None:
            body.seek(start)
            kept = body.read()
        else:
            counts = IngestCounts(received=report.counts.received, rejected=report.counts.rejected)
            error = FeedError(
                ErrorCode.SNAPSHOT_NOT_KEPT,
                f"this snapshot would retire {len(retire)} products, more than the mass-delete guard allows, "
                "and its body cannot be read again to keep it for an operator: nothing was applied",
            )
            return attrs.evolve(report, status=FeedStatus.REJECTED, counts=counts, feed_error=error), None
        return report, HeldFeed(report.feed_id, report.partner_id, kept, retire)

    def _record(
        self,
        uow: UnitOfWork,
        submission: FeedSubmission,
        terms: FeedTerms,
        report: IngestReport,
        content_hash: str,
        received_at: datetime,
        known: FeedFingerprint | None,
    ) -> None:
        """Write the ledger entry, the Idempotency-Key and the audit entries of a processed feed;
        `known`: the fingerprint made before the body was read, if its hash was known."""
        now = self._clock.now()
        fingerprint = (
            known
            if known is not None and known.content_hash == content_hash
            else terms.fingerprint(content_hash)
        )
        uow.imports.add(
            FeedImport(
                id=report.feed_id,
                partner_id=report.partner_id,
                format=report.format,
                version=report.version,
                content_hash=content_hash,
                status=_import_status(report),
                report=report,
                received_at=received_at,
                completed_at=now,
                idempotency_key=submission.idempotency_key,
                job_id=submission.job_id,
                fingerprint=fingerprint,
            )
        )
        if submission.idempotency_key is not None:
            uow.idempotency_keys.add(
                KeyUse(
                    report.partner_id, submission.idempotency_key, fingerprint, now, feed_id=report.feed_id
                )
            )
        uow.audit.append_many(self._audit_entries(submission, report))

    def _audit_entries(self, submission: FeedSubmission, report: IngestReport) -> list[AuditEntry]:
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
            "deleted": counts.deleted,
            "retired": counts.retired,
            "source": submission.source,
        }
        if report.feed_error is not None:
            summary["feed_error"] = str(report.feed_error.code)
        if report.status is FeedStatus.HELD:
            action, outcome = AuditAction.FEED_HELD, Outcome.SKIPPED
        elif report.applied:
            action = AuditAction.FEED_INGESTED
            outcome = Outcome.SUCCESS if report.status is FeedStatus.ACCEPTED else Outcome.REJECTED
        else:
            action, outcome = AuditAction.FEED_REJECTED, Outcome.REJECTED
        if submission.release_of is not None:
            summary["releases"] = submission.release_of
        entries = [self._audit(submission, action, outcome, summary)]
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
        return entries

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


def _report_of(uow: UnitOfWork, use: KeyUse) -> IngestReport:
    """The answer a key's first use got: its import's report, or its job's once it has one."""
    if use.feed_id is not None:
        entry = uow.imports.get(use.feed_id)
        if entry is None:  # pragma: no cover - recorded in the same unit of work as the key
            raise NotFoundError("feed import", use.feed_id)
        return entry.report
    assert use.job_id is not None
    job = uow.jobs.get(use.job_id)
    if job is None:  # pragma: no cover - recorded in the same unit of work as the key
        raise NotFoundError("job", use.job_id)
    if job.status is JobStatus.SUCCEEDED and job.report is not None:
        return job.report
    raise IdempotencyKeyNamesJob(use.key, job.id, str(job.status))


def _import_status(report: IngestReport) -> ImportStatus:
    if report.status is FeedStatus.HELD:
        return ImportStatus.HELD
    return ImportStatus.APPLIED if report.applied else ImportStatus.REJECTED


def _start_of(body: BinaryIO | StoredBody) -> int | None:
    """Where a body that can be read again starts (a held snapshot keeps it); None otherwise."""
    if isinstance(body, StoredBody) or not body.seekable():
        return None
    return body.tell()


def _run(steps: Sequence[IngestStep], uow: UnitOfWork, ingested: Ingested) -> None:
    for step in steps:
        step(uow, ingested)


def _open(body: BinaryIO | StoredBody, uow: UnitOfWork) -> AbstractContextManager[BinaryIO]:
    return body.open(uow) if isinstance(body, StoredBody) else nullcontext(body)


def _with_content_hash(submission: FeedSubmission) -> FeedSubmission:
    """The submission with its body's hash, computed now where the body can be read twice."""
    body = submission.body
    if submission.content_hash is not None or submission.dry_run:
        return submission
    if isinstance(body, StoredBody):
        return submission
    if body.seekable():
        start = body.tell()
        digest = hashlib.sha256()
        while data := body.read(_HASH_STEP):
            digest.update(data)
        body.seek(start)
        return attrs.evolve(submission, content_hash=digest.hexdigest())
    if submission.idempotency_key is not None:
        raise ValueError("a feed with an Idempotency-Key needs a seekable body or its content_hash")
    return submission


class _StoreSink:
    """Routes the pipeline's writes into a unit of work (called once per batch), and its
    rejections into the spool the diagnostics step writes from."""

    def __init__(
        self, uow: UnitOfWork, spool: RejectionSpool, partner_id: str, feed_id: str, clock: Clock
    ) -> None:
        self._uow = uow
        self._spool = spool
        self._partner_id = partner_id
        self._feed_id = feed_id
        self._clock = clock
        self._open: bool | None = None

    def current(self, skus: Sequence[str]) -> Mapping[str, ProductRow]:
        return self._uow.products.current(self._partner_id, skus)

    def retire(self, skus: Sequence[str]) -> int:
        return self._uow.products.retire(self._partner_id, skus, self._clock.now())

    def repeated(self, skus: Sequence[str]) -> list[int]:
        return self._uow.feed_skus.repeated(skus)

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        counts = self._uow.products.upsert(rows, feed_id=self._feed_id)
        # A SKU accepted now closes its open diagnostics; asked once per feed, so a partner
        # with nothing open pays one query, not one per batch. Rolled back with the products
        # when the feed is.
        if self._open is None:
            self._open = self._uow.diagnostics.has_open(self._partner_id)
        if self._open:
            skus = [row[SKU] for row in rows]
            self._uow.diagnostics.resolve(self._partner_id, skus, self._feed_id, self._clock.now())
        return counts

    def keep(self, rejections: Sequence[Rejection]) -> None:
        self._spool.add(rejections)
