"""Jobs on the in-memory store: submitted durably, processed once, retried, dead, deterministic (T1)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import timedelta

import attrs
import pytest
from support.memory import MemoryApp

from partner_ingest.adapters_in.bootstrap import Application, in_memory
from partner_ingest.adapters_in.settings import Settings, SettingsError
from partner_ingest.adapters_in.worker import Worker, process_next_job_once
from partner_ingest.adapters_out.memory import InMemoryStore
from partner_ingest.domain.model import (
    AuditAction,
    AuditQuery,
    FeedStatus,
    Job,
    JobStatus,
    NotFoundError,
    Partner,
    UnavailableError,
)
from partner_ingest.domain.model.errors import PolicyOverrideDenied
from partner_ingest.domain.model.policy import Mode, PolicyOverrides, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.use_cases import (
    FeedSubmission,
    IngestFeed,
    IngestStep,
    JobNotDeadError,
    JobOutcome,
)
from partner_ingest.domain.use_cases.jobs import JobFinishedError, JobResult, ProcessNextJob

FEED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'


def submit(
    app: Application,
    body: bytes = FEED,
    *,
    partner_id: str = "acme",
    policy: ValidationPolicy | None = None,
    idempotency_key: str | None = None,
) -> Job:
    submission = FeedSubmission(
        partner_id=partner_id,
        body=io.BytesIO(body),
        format="json",
        overrides=PolicyOverrides.of(policy),
        idempotency_key=idempotency_key,
    )
    job = app.submit_job(submission, body_bytes=len(body), content_hash=hashlib.sha256(body).hexdigest())
    assert isinstance(job, Job), f"expected a job, got the report {job}"
    return job


def test_enqueue_process_once_and_assert_the_store_no_threads_no_sleeps(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    job = submit(app)
    assert job.status is JobStatus.QUEUED
    with store.unit_of_work() as uow:
        assert uow.products.get("acme", "A-1") is None

    result = process_next_job_once(app)

    assert result is not None and result.outcome is JobOutcome.SUCCEEDED
    with store.unit_of_work() as uow:
        product = uow.products.get("acme", "A-1")
        [entry] = uow.imports.recent("acme")
    assert product is not None and product.name == "Mug"
    done = uow_job(store, job.id)
    assert done.status is JobStatus.SUCCEEDED and done.report == result.report
    assert entry.job_id == job.id and entry.report.counts.created == 1
    assert process_next_job_once(app) is None


def test_submission_is_audited_and_refuses_what_can_be_refused_up_front(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    submit(app)
    assert [e.action for e in store.audit_log.query(AuditQuery())] == [AuditAction.JOB_SUBMITTED]
    with pytest.raises(NotFoundError):
        submit(app, partner_id="nobody")
    with pytest.raises(PolicyOverrideDenied):
        submit(app, policy=ValidationPolicy(mode=Mode.LENIENT))
    with store.unit_of_work() as uow:
        assert len(uow.jobs.recent()) == 1


def test_the_same_idempotency_key_returns_the_same_job(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    first = submit(app, idempotency_key="k-1")
    again = submit(app, idempotency_key="k-1")
    assert again == first
    with store.unit_of_work() as uow:
        assert len(uow.jobs.recent()) == 1


def test_identical_content_is_not_applied_twice(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    submit(app)
    submit(app)
    first, second = processed(process_next_job_once(app)), processed(process_next_job_once(app))
    assert first.report == second.report  # the second job answers with the first report
    with store.unit_of_work() as uow:
        assert len(uow.imports.recent("acme")) == 1
    assert [e.action for e in store.audit_log.query(AuditQuery(action=AuditAction.FEED_DUPLICATE))]


def test_a_rejected_feed_is_a_processed_job_with_a_rejected_report(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    job = submit(app, body=b'{"products": [{"sku": "A-1"}]}')
    result = processed(process_next_job_once(app))
    assert result.outcome is JobOutcome.SUCCEEDED and reported(result).status is FeedStatus.REJECTED
    assert uow_job(store, job.id).status is JobStatus.SUCCEEDED
    with store.unit_of_work() as uow:
        assert uow.products.count("acme") == 0
        [entry] = uow.imports.recent("acme")
    assert entry.report.status is FeedStatus.REJECTED


class FlakyIngest(IngestFeed):
    """A real ingest that fails the first `failures` times: the database went away, say."""

    def __init__(self, app: Application, failures: int, error: Exception | None = None) -> None:
        super().__init__(app.uow, app.formats, app.clock, app.ids, limits=app.limits)
        self.failures = failures
        self.error = error or ConnectionError("database went away")

    def __call__(self, submission: FeedSubmission, *, steps: Sequence[IngestStep] = ()) -> IngestReport:
        if self.failures:
            self.failures -= 1
            raise self.error
        return super().__call__(submission, steps=steps)


def processed(result: JobResult | None) -> JobResult:
    """The result of a job that was processed (None would mean the queue had nothing due)."""
    assert result is not None, "expected a job to be processed, but no job was due"
    return result


def reported(result: JobResult) -> IngestReport:
    """The ingest report of a processed job (None would mean it failed before ingesting)."""
    assert result.report is not None, f"job {result.job.id} ended {result.outcome} with no report"
    return result.report


def error_of(result: JobResult | None) -> str:
    """The error of a job that failed (None would mean it succeeded or was never processed)."""
    assert result is not None and result.error is not None, f"expected a failed job, got {result!r}"
    return result.error


def test_failures_are_retried_with_backoff_then_the_job_dies_and_can_be_revived(
    memory_app: MemoryApp,
) -> None:
    app, store, clock = memory_app
    flaky = FlakyIngest(app, failures=5)
    process = ProcessNextJob(app.uow, flaky, clock, app.ids, backoff_base=2.0, jitter=lambda: 0.0)
    job = submit(app)
    delays: list[float] = []
    for _ in range(4):
        result = processed(process())
        assert result.outcome is JobOutcome.RETRYING and "database went away" in error_of(result)
        assert process() is None  # backing off: not due yet
        waiting = uow_job(store, job.id).available_at - clock.now()
        delays.append(waiting.total_seconds())
        clock.advance(waiting.total_seconds())
    assert delays == [2.0, 4.0, 8.0, 16.0]
    last = processed(process())
    assert last.outcome is JobOutcome.DEAD
    assert uow_job(store, job.id).status is JobStatus.DEAD
    assert [e.action for e in store.audit_log.query(AuditQuery(action=AuditAction.JOB_DEAD))]

    revived = app.jobs.retry(job.id, actor="admin:k1")
    assert revived.status is JobStatus.QUEUED and revived.attempts == 0
    with pytest.raises(JobNotDeadError):
        app.jobs.retry(job.id, actor="admin:k1")
    assert processed(process()).outcome is JobOutcome.SUCCEEDED  # flaky has no failures left


def test_a_store_that_cannot_serve_now_is_retried_not_given_up(memory_app: MemoryApp) -> None:
    # UnavailableError is an IngestError, which otherwise means "never processable as sent".
    app, store, clock = memory_app
    busy = FlakyIngest(app, failures=1, error=UnavailableError("the database is busy"))
    process = ProcessNextJob(app.uow, busy, clock, app.ids, backoff_base=2.0, jitter=lambda: 0.0)
    job = submit(app)
    first = processed(process())
    assert first.outcome is JobOutcome.RETRYING and "unavailable: the database is busy" in error_of(first)
    clock.advance((uow_job(store, job.id).available_at - clock.now()).total_seconds())
    assert processed(process()).outcome is JobOutcome.SUCCEEDED


def uow_job(store: InMemoryStore, job_id: str) -> Job:
    with store.unit_of_work() as uow:
        job = uow.jobs.get(job_id)
    assert job is not None, f"job {job_id} is not in the store"
    return job


def test_a_partner_gone_since_submission_kills_the_job_without_retries(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    job = submit(app)
    with store.unit_of_work() as uow:
        partner = uow.partners.get("acme")
        assert partner is not None, "the memory_app fixture adds partner acme"
        uow.partners.update(attrs.evolve(partner, active=False))
        uow.commit()
    result = processed(process_next_job_once(app))
    assert result.outcome is JobOutcome.DEAD and "partner" in error_of(result)
    assert uow_job(store, job.id).attempts == 1


def test_a_worker_whose_lease_was_taken_over_changes_nothing(memory_app: MemoryApp) -> None:
    app, store, clock = memory_app
    submit(app)
    slow = app.process_next_job
    claimed = slow.claim()
    assert claimed is not None
    clock.advance(seconds=slow.lease_for.total_seconds() + 1)  # the first worker "slept" past its lease
    second = slow.claim()
    assert second is not None and second[1].token != claimed[1].token

    stale = slow.process(*claimed)
    assert stale.outcome is JobOutcome.LEASE_LOST
    with store.unit_of_work() as uow:
        assert uow.products.count("acme") == 0 and uow.imports.recent() == []

    fresh = slow.process(*second)
    assert fresh.outcome is JobOutcome.SUCCEEDED
    with store.unit_of_work() as uow:
        assert uow.products.count("acme") == 1 and len(uow.imports.recent()) == 1


def test_partners_see_only_their_own_jobs(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    job = submit(app)
    assert app.jobs.get(job.id, partner_id="acme") == job
    assert app.jobs.get(job.id, partner_id=None) == job  # an admin
    with pytest.raises(NotFoundError):
        app.jobs.get(job.id, partner_id="lenient-co")
    with pytest.raises(NotFoundError):
        app.jobs.get("job_nope", partner_id="acme")


def test_the_worker_loop_drains_the_queue_and_counts(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    for n in range(3):
        submit(app, body=FEED.replace(b"A-1", f"A-{n}".encode()))
    worker = Worker(app.process_next_job, poll_seconds=0.01)
    while worker.run_once() is not None:
        pass
    assert worker.processed == 3
    assert app.jobs.queue_depth()["succeeded"] == 3


def test_a_long_feed_keeps_its_lease_through_the_heartbeat(memory_app: MemoryApp) -> None:
    app, store, clock = memory_app
    job = submit(app)
    process = ProcessNextJob(app.uow, app.ingest, clock, app.ids, lease_seconds=0.15)
    claimed = process.claim()
    assert claimed is not None
    before = uow_job(store, job.id).lease_expires_at
    assert before is not None, "a claimed job has a lease expiry"
    clock.advance(0.1)
    assert process.renew(claimed[1])
    assert uow_job(store, job.id).lease_expires_at == before + timedelta(seconds=0.1)


def test_a_queued_job_is_cancelled_audited_and_never_processed(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    job = submit(app)
    with pytest.raises(NotFoundError):
        app.jobs.cancel(job.id, partner_id="lenient-co", actor="lenient-co")  # not its job: as unknown
    cancelled = app.jobs.cancel(job.id, partner_id="acme", actor="acme", client="203.0.113.9")
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
    assert process_next_job_once(app) is None
    with pytest.raises(JobFinishedError) as refused:
        app.jobs.cancel(job.id, partner_id=None, actor="admin:k1")
    assert refused.value.code == "job_finished" and refused.value.status is JobStatus.CANCELLED
    [entry] = store.audit_log.query(AuditQuery(action=AuditAction.JOB_CANCELLED))
    assert (entry.actor, entry.partner_id, entry.client) == ("acme", "acme", "203.0.113.9")
    assert entry.details == {"job_id": job.id, "was": "queued"}


def test_a_job_cancelled_while_it_runs_stops_at_its_next_read_and_writes_nothing(
    memory_app: MemoryApp,
) -> None:
    app, store, _ = memory_app
    job = submit(app)
    claimed = app.process_next_job.claim()
    assert claimed is not None
    app.jobs.cancel(job.id, partner_id=None, actor="admin:k1")  # before the worker reads the feed
    # What the worker's heartbeat does: it sees the lease is gone, and the feed stops.
    result = app.process_next_job.process(
        *claimed, interrupted=lambda: not app.process_next_job.holds(claimed[1])
    )
    assert result.outcome is JobOutcome.LEASE_LOST
    with store.unit_of_work() as uow:
        assert uow.products.count("acme") == 0 and uow.imports.recent("acme") == []
    assert uow_job(store, job.id).status is JobStatus.CANCELLED


def test_the_worker_purges_bodies_whose_retention_is_over_between_jobs() -> None:
    app, store, clock = in_memory(settings=Settings(job_body_retention_seconds=60))
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now(), default_version=2))
        uow.commit()
    job = submit(app)
    assert processed(process_next_job_once(app)).outcome is JobOutcome.SUCCEEDED
    assert app.job_bodies.stored() == (1, len(FEED))  # kept: the retention is a minute
    worker = Worker(app.process_next_job, purge=app.job_bodies, purge_seconds=3600)
    assert worker.purge_if_due() == 0  # due at once, but nothing is old enough yet
    clock.advance(61)
    assert worker.purge_if_due() == 0  # not due again for an hour
    worker = Worker(app.process_next_job, purge=app.job_bodies, purge_seconds=3600)
    assert worker.purge_if_due() == 1
    assert app.job_bodies.stored() == (0, 0) and uow_job(store, job.id).body_purged_at == clock.now()


@pytest.mark.parametrize(
    "variable",
    ["PARTNER_INGEST_JOB_BODY_RETENTION_SECONDS", "PARTNER_INGEST_JOB_BODY_RETENTION_DEAD_SECONDS"],
)
def test_a_negative_body_retention_is_refused_naming_the_setting(variable: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable} must be a non-negative number"):
        Settings.from_env({variable: "-1"})
