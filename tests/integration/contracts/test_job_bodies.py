"""Feed bodies of finished jobs, through the use cases, on every store (ADR 0025): a succeeded job's
body goes with its success by default, a retention keeps it for a while, a dead job's stays
revivable until its own retention ends, and what is kept is counted."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import attrs
import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.domain.model import BodyRetention, Job, JobStatus, NotFoundError, Partner
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed, JobOutcome
from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies
from partner_ingest.domain.use_cases.jobs import JobBodyPurgedError, ProcessNextJob, QueryJobs, SubmitFeedJob
from partner_ingest.plugins import load_formats
from partner_ingest.ports.repositories import StoredBodies

ITEM = b'{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}\n'
# Several MiB, so that PostgreSQL stores it in several chunks, all of which must go. The padding
# is long blank lines (skipped as blank ones are), so the worker reads it in a few thousand lines.
BIG_FEED = ITEM * 3 + (b" " * 4095 + b"\n") * (3 * 256)


@attrs.define
class Queue:
    """The job use cases over one store, on a fake clock."""

    store: StoreUnderTest
    clock: FakeClock
    submit_job: SubmitFeedJob
    process: ProcessNextJob
    bodies: PurgeJobBodies
    jobs: QueryJobs

    def submit(self, body: bytes = BIG_FEED) -> str:
        submission = FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="jsonl", version=1)
        job = self.submit_job(submission, body_bytes=len(body), content_hash=hashlib.sha256(body).hexdigest())
        assert isinstance(job, Job)  # no Idempotency-Key: always a new job
        return job.id

    def stored(self) -> StoredBodies:
        return self.bodies.stored()

    def body_is_gone(self, job_id: str) -> bool:
        with self.store.unit_of_work(read_only=True) as uow:
            try:
                uow.jobs.open_body(job_id).close()
            except NotFoundError:
                return True
        return False


def queue_on(store: StoreUnderTest, retention: BodyRetention) -> Queue:
    clock, ids, formats = FakeClock(), SequentialIds(), load_formats()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    bodies = PurgeJobBodies(store.unit_of_work, clock, retention)
    ingest = IngestFeed(store.unit_of_work, formats, clock, ids)
    return Queue(
        store,
        clock,
        SubmitFeedJob(store.unit_of_work, formats, clock, ids),
        ProcessNextJob(store.unit_of_work, ingest, clock, ids, bodies=bodies, jitter=lambda: 0.0),
        bodies,
        QueryJobs(store.unit_of_work, clock),
    )


def test_a_succeeded_jobs_body_is_deleted_when_it_succeeds(store: StoreUnderTest) -> None:
    queue = queue_on(store, BodyRetention())
    job_id = queue.submit()
    assert queue.stored() == StoredBodies(1, len(BIG_FEED))
    result = queue.process()
    assert result is not None and result.outcome is JobOutcome.SUCCEEDED
    assert queue.body_is_gone(job_id)
    assert queue.stored() == StoredBodies(0, 0)
    job = queue.jobs.get(job_id, partner_id=None)
    assert job.status is JobStatus.SUCCEEDED and job.body_purged_at == queue.clock.now()


def test_a_retention_keeps_succeeded_bodies_until_the_periodic_purge_after_it(store: StoreUnderTest) -> None:
    queue = queue_on(store, BodyRetention(finished=timedelta(hours=1)))
    job_id = queue.submit()
    assert queue.process() is not None
    assert not queue.body_is_gone(job_id) and queue.stored() == StoredBodies(1, len(BIG_FEED))
    queue.clock.advance(minutes=59)
    assert queue.bodies() == 0
    queue.clock.advance(minutes=1)
    assert queue.bodies() == 1
    assert queue.body_is_gone(job_id) and queue.stored() == StoredBodies(0, 0)


def test_a_dead_jobs_body_stays_revivable_until_its_retention_ends(store: StoreUnderTest) -> None:
    queue = queue_on(store, BodyRetention(dead=timedelta(days=1)))
    job_id = queue.submit(b"not json at all\n")
    with store.unit_of_work() as uow:  # a job whose partner is gone can never be processed: dead
        partner = uow.partners.get("acme")
        assert partner is not None
        uow.partners.update(attrs.evolve(partner, active=False))
        uow.commit()
    result = queue.process()
    assert result is not None and result.outcome is JobOutcome.DEAD
    assert queue.bodies() == 0 and not queue.body_is_gone(job_id)
    assert queue.jobs.retry(job_id, actor="admin:k1").status is JobStatus.QUEUED  # revived, then dead again
    assert (again := queue.process()) is not None and again.outcome is JobOutcome.DEAD

    queue.clock.advance(days=1)
    assert queue.bodies() == 1 and queue.body_is_gone(job_id)
    with pytest.raises(JobBodyPurgedError, match="purged"):
        queue.jobs.retry(job_id, actor="admin:k1")
    assert queue.jobs.get(job_id, partner_id=None).status is JobStatus.DEAD
