"""Use case: pull due partner feeds from the partners' own endpoints and submit them as jobs (S4).

For each due schedule (claimed, so no other scheduler acts on it meanwhile):
decrypt the partner's stored credentials only to build the request, fetch
through the `FeedFetcher` port (address checks, timeouts, size cap, circuit
breaker), audit the fetch (host, status, bytes, duration, outcome; never a
header), and submit the body as a job unless it did not change (conditional
GET, or the same content hash as last time). A partner fetched far more often
than allowed or than usual raises a `fetch_anomaly` audit entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditDetail, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.cron import InvalidScheduleError
from partner_ingest.domain.model.errors import IngestError, NotFoundError
from partner_ingest.domain.model.jobs import Job
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.credentials import CredentialVault
from partner_ingest.ports.cron import CronRules
from partner_ingest.ports.fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult
from partner_ingest.ports.formats import FeedFormat, FormatRegistry
from partner_ingest.ports.repositories import AuditLog
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .feed_terms import FeedSubmission
from .schedule_runs import next_run
from .submit_job import SubmitFeedJob

__all__ = ["PullDueFeeds", "PullResult"]

_CHUNK: Final = 1 << 20
UNCHANGED: Final = "unchanged"
NO_ENDPOINT: Final = "no_endpoint"
BAD_SCHEDULE: Final = "bad_schedule"


@attrs.frozen
class PullResult:
    """What one due schedule came to."""

    schedule_id: str
    partner_id: str
    outcome: str
    """A FetchOutcome, or `unchanged`, `no_endpoint`, `bad_schedule`."""
    job_id: str | None = None
    anomaly: bool = False
    duration_seconds: float = 0.0


@attrs.frozen
class AnomalyRule:
    """When fetches of one partner look wrong: above `per_hour`, or `factor` times its usual hourly rate."""

    per_hour: int = 60
    """The cap: more fetches than this in the last hour are anomalous, however few that is."""
    factor: float = 5.0
    min_fetches: int = 5
    """The "far above usual" comparison needs at least this many fetches in the hour, so that a
    partner pulled once a day is not anomalous for being pulled twice; the cap ignores it."""


class PullDueFeeds:
    """One scheduler pass: every due schedule fetched once, by this scheduler only."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        fetcher: FeedFetcher,
        vault: CredentialVault,
        submit: SubmitFeedJob,
        formats: FormatRegistry,
        clock: Clock,
        *,
        cron: CronRules,
        hold_seconds: float = 900.0,
        batch: int = 20,
        anomaly: AnomalyRule | None = None,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._fetcher = fetcher
        self._vault = vault
        self._submit = submit
        self._formats = formats
        self._clock = clock
        self._cron = cron
        self._hold = timedelta(seconds=hold_seconds)
        self._batch = batch
        self._anomaly = anomaly or AnomalyRule()

    def __call__(self) -> list[PullResult]:
        """Claim the due schedules and pull each; returns what happened to each."""
        now = self._clock.now()
        with self._uow() as uow:
            due = uow.schedules.claim_due(now, now + self._hold, self._batch)
            uow.commit()
        return [self._pull(schedule) for schedule in due]

    def run_now(self, schedule_id: str, *, actor: str, client: str | None = None) -> PullResult:
        """Pull one schedule's feed now, whether due or not (enabled or not), audited as an admin
        action; its cadence goes on from its own due time. NotFoundError when unknown."""
        now = self._clock.now()
        with self._uow() as uow:
            schedule = uow.schedules.get(schedule_id)
            if schedule is None:
                raise NotFoundError("schedule", schedule_id)
            # Held like a claim, so that a scheduler pass meanwhile does not pull it too.
            uow.schedules.update(attrs.evolve(schedule, next_run_at=now + self._hold))
            uow.audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.ADMIN_ACTION,
                    outcome=Outcome.SUCCESS,
                    actor=actor,
                    partner_id=schedule.partner_id,
                    client=client,
                    details={"schedule_run": schedule_id},
                )
            )
            uow.commit()
        return self._pull(schedule)

    def _pull(self, schedule: Schedule) -> PullResult:
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            partner = uow.partners.get(schedule.partner_id)
        if partner is None or not partner.active or not partner.endpoint:
            self._audit_skip(schedule, NO_ENDPOINT, now)
            self._reschedule(
                schedule, now, outcome=NO_ENDPOINT, error="the partner is inactive or has no endpoint"
            )
            return PullResult(schedule.id, schedule.partner_id, NO_ENDPOINT)
        try:
            fmt = self._formats.get(
                schedule.format or partner.default_format, schedule.version or partner.default_version
            )
            request = FetchRequest(
                url=partner.endpoint,
                headers=self._headers(partner),
                etag=schedule.etag,
                last_modified=schedule.last_modified,
                accept=fmt.media_types,
                partner_id=partner.id,
            )
        except (IngestError, ValueError) as error:
            # A format since removed, or credentials no key can decrypt: an operator must act.
            self._audit_skip(schedule, f"{BAD_SCHEDULE}: {type(error).__name__}", now)
            self._reschedule(schedule, now, outcome=BAD_SCHEDULE, error=f"{type(error).__name__}: {error}")
            return PullResult(schedule.id, partner.id, BAD_SCHEDULE)

        result = self._fetcher.fetch(request)
        try:
            anomaly = self._audit_fetch(partner, schedule, result, now)
            outcome, content_hash, job_id = self._submit_if_changed(partner, schedule, fmt, result)
        finally:
            if result.body is not None:
                result.body.close()
        fetched = result.outcome in (FetchOutcome.FETCHED, FetchOutcome.NOT_MODIFIED)
        self._reschedule(
            schedule,
            now,
            etag=result.etag if fetched else schedule.etag,
            last_modified=result.last_modified if fetched else schedule.last_modified,
            content_hash=content_hash,
            outcome=outcome,
            error=None if fetched else (result.detail or f"the feed answered {result.status}"),
            job_id=job_id,
        )
        return PullResult(schedule.id, partner.id, outcome, job_id, anomaly, result.duration_seconds)

    def _submit_if_changed(
        self, partner: Partner, schedule: Schedule, fmt: FeedFormat, result: FetchResult
    ) -> tuple[str, str | None, str | None]:
        """The pull's outcome, the content hash the schedule keeps, and the job a changed body
        was submitted as (a body identical to the last one is not submitted again)."""
        if result.outcome is not FetchOutcome.FETCHED or result.body is None:
            return str(result.outcome), schedule.last_content_hash, None
        content_hash = _sha256(result.body)
        if content_hash == schedule.last_content_hash:
            return UNCHANGED, content_hash, None
        job = self._submit(
            FeedSubmission(
                partner_id=partner.id,
                body=result.body,
                format=fmt.name,
                version=fmt.version,
                source="pull",
                feed_mode=schedule.feed_mode,
            ),
            body_bytes=result.bytes,
            content_hash=content_hash,
        )
        assert isinstance(job, Job)  # only an Idempotency-Key is answered otherwise
        return str(result.outcome), content_hash, job.id

    def _headers(self, partner: Partner) -> dict[str, str]:
        # Decrypted here, used for this one request, never stored, logged or audited.
        headers = {name: self._vault.decrypt(value) for name, value in partner.endpoint_headers.items()}
        if partner.endpoint_auth:
            headers["Authorization"] = self._vault.decrypt(partner.endpoint_auth)
        return headers

    def _reschedule(
        self,
        schedule: Schedule,
        now: datetime,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        content_hash: str | None = None,
        outcome: str,
        error: str | None = None,
        job_id: str | None = None,
    ) -> None:
        """Record this run (and how it went) on the schedule as it is stored now, not as it was when the run
        began: an admin's change made while the feed was being fetched (a new rule, the
        schedule switched off) stands, and the next run follows it."""
        with self._uow() as uow:
            current = uow.schedules.get(schedule.id)
            if current is None:  # deleted meanwhile: leave it deleted
                uow.commit()
                return
            # The stored next_run_at is the claim's hold; the cadence counts from the run's
            # own due time, unless an admin set a new rule (and its first run) meanwhile.
            changed = (current.interval_seconds, current.cron) != (schedule.interval_seconds, schedule.cron)
            timing = current if changed else attrs.evolve(current, next_run_at=schedule.next_run_at)
            try:
                upcoming = next_run(timing, now, self._cron)
                enabled = current.enabled
            except InvalidScheduleError:
                upcoming, enabled = now + self._hold, False  # a stored schedule that cannot run: stop it
            done = attrs.evolve(
                current,
                next_run_at=upcoming,
                enabled=enabled,
                last_run_at=now,
                etag=etag if etag is not None else current.etag,
                last_modified=last_modified if last_modified is not None else current.last_modified,
                last_content_hash=content_hash if content_hash is not None else current.last_content_hash,
                last_outcome=outcome,
                last_error=None if error is None else error[:500],
                last_job_id=job_id,
            )
            uow.schedules.update(done)
            uow.commit()

    def _audit_fetch(self, partner: Partner, schedule: Schedule, result: FetchResult, now: datetime) -> bool:
        skipped = result.outcome is FetchOutcome.CIRCUIT_OPEN
        details: dict[str, AuditDetail] = {
            "schedule_id": schedule.id,
            "host": result.host,
            "status": result.status,
            "bytes": result.bytes,
            "duration_ms": round(result.duration_seconds * 1000),
            "outcome": str(result.outcome),
        }
        if result.detail:
            details["detail"] = result.detail[:200]
        ok = result.outcome in (FetchOutcome.FETCHED, FetchOutcome.NOT_MODIFIED)
        self._audit.append(
            AuditEntry(
                at=now,
                action=AuditAction.FETCH_SKIPPED if skipped else AuditAction.FETCH,
                outcome=Outcome.SKIPPED if skipped else (Outcome.SUCCESS if ok else Outcome.FAILED),
                actor="system",
                partner_id=partner.id,
                details=details,
            )
        )
        return self._check_anomaly(partner.id, now)

    def _check_anomaly(self, partner_id: str, now: datetime) -> bool:
        rule = self._anomaly
        hour = self._audit.query(
            AuditQuery(
                since=now - timedelta(hours=1),
                partner_id=partner_id,
                action=AuditAction.FETCH,
                limit=rule.per_hour * 10,
            )
        )
        above_cap = len(hour) > rule.per_hour
        usual, above_usual = 0.0, False
        if len(hour) >= rule.min_fetches:
            day = self._audit.query(
                AuditQuery(
                    since=now - timedelta(hours=25),
                    until=now - timedelta(hours=1),
                    partner_id=partner_id,
                    action=AuditAction.FETCH,
                    limit=rule.per_hour * 24 * 10,
                )
            )
            usual = len(day) / 24
            above_usual = usual > 0 and len(hour) > rule.factor * usual
        if not (above_cap or above_usual):
            return False
        already = self._audit.query(
            AuditQuery(
                since=now - timedelta(hours=1),
                partner_id=partner_id,
                action=AuditAction.FETCH_ANOMALY,
                limit=1,
            )
        )
        if not already:  # one entry per partner and hour, not one per fetch
            self._audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.FETCH_ANOMALY,
                    outcome=Outcome.FAILED,
                    actor="system",
                    partner_id=partner_id,
                    details={
                        "fetches_last_hour": len(hour),
                        "usual_per_hour": round(usual, 2),
                        "limit_per_hour": rule.per_hour,
                        "reason": "above limit" if above_cap else "far above usual",
                    },
                )
            )
        return True

    def _audit_skip(self, schedule: Schedule, reason: str, now: datetime) -> None:
        self._audit.append(
            AuditEntry(
                at=now,
                action=AuditAction.FETCH_SKIPPED,
                outcome=Outcome.SKIPPED,
                actor="system",
                partner_id=schedule.partner_id,
                details={"schedule_id": schedule.id, "reason": reason},
            )
        )


def _sha256(body: BinaryIO) -> str:
    import hashlib  # here: OpenSSL loads with the first pulled feed, not the scheduler's start

    digest = hashlib.sha256()
    while chunk := body.read(_CHUNK):
        digest.update(chunk)
    body.seek(0)
    return digest.hexdigest()
