"""The job queue's rules, for every store (ADR 0025): one running job per partner, a partner's jobs
in submission order, partners served in turn, cancel, and feed bodies kept only as long as needed."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from support.stores import StoreUnderTest

from partner_ingest.domain.model import (
    BodyRetention,
    FeedStatus,
    IngestCounts,
    IngestReport,
    Job,
    JobStatus,
    Lease,
    NotFoundError,
    Partner,
)
from partner_ingest.ports.repositories import StoredBodies

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def seeded(store: StoreUnderTest) -> StoreUnderTest:
    with store.unit_of_work() as uow:
        for pid in ("acme", "globex", "initech"):
            uow.partners.add(Partner(id=pid, name=pid.title(), created_at=T0))
        uow.commit()
    return store


def submit(store: StoreUnderTest, partner: str, *ids: str, at: datetime = T0, body: bytes = b"{}") -> None:
    with store.unit_of_work() as uow:
        for job_id in ids:
            job = Job(job_id, partner, "json", 2, JobStatus.QUEUED, at, at, "h" + job_id, len(body))
            uow.jobs.add(job, io.BytesIO(body))
        uow.commit()


def claim(store: StoreUnderTest, now: datetime, token: str) -> Job | None:
    with store.unit_of_work() as uow:
        job = uow.jobs.claim(now, LEASE, token)
        uow.commit()
    return job


def report(job_id: str, partner: str = "acme") -> IngestReport:
    return IngestReport(job_id, partner, "json", 2, FeedStatus.ACCEPTED, IngestCounts(0, 0, 0, 0, 0))


def complete(store: StoreUnderTest, job: Job, now: datetime) -> None:
    assert job.lease_token is not None
    with store.unit_of_work() as uow:
        assert uow.jobs.complete(Lease(job.id, job.lease_token, now), report(job.id, job.partner_id), now)
        uow.commit()


def get(store: StoreUnderTest, job_id: str) -> Job:
    with store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(job_id)
    assert job is not None
    return job


def test_a_partner_with_a_deep_backlog_does_not_starve_another(seeded: StoreUnderTest) -> None:
    """100 queued jobs of acme, then one of globex: globex's starts within the next two claims."""
    submit(seeded, "acme", *(f"a{n:03d}" for n in range(100)))
    first = claim(seeded, T0, "t0")
    assert first is not None and first.id == "a000"
    complete(seeded, first, T0)
    submit(seeded, "globex", "g0")
    started = []
    for n in range(2):
        job = claim(seeded, T0, f"t{n + 1}")
        assert job is not None
        started.append(job.id)
        complete(seeded, job, T0)
    assert "g0" in started


def test_partners_take_turns_the_least_recently_served_first(seeded: StoreUnderTest) -> None:
    submit(seeded, "acme", "a0", "a1", "a2", "a3")
    submit(seeded, "globex", "g0", "g1")
    submit(seeded, "initech", "i0")
    order: list[str] = []
    while (job := claim(seeded, T0, f"t{len(order)}")) is not None:
        order.append(job.id)
        complete(seeded, job, T0)
    # Never served first (by partner id), then whoever was served longest ago.
    assert order == ["a0", "g0", "i0", "a1", "g1", "a2", "a3"]


def test_a_running_job_blocks_its_partner_until_its_lease_expires_then_is_taken_again(
    seeded: StoreUnderTest,
) -> None:
    submit(seeded, "acme", "a0", "a1")
    submit(seeded, "globex", "g0")
    held = claim(seeded, T0, "first")
    assert held is not None and held.id == "a0"
    other = claim(seeded, T0, "other")
    assert other is not None and other.id == "g0"  # a1 waits for a0
    complete(seeded, other, T0)
    assert claim(seeded, T0, "more") is None
    expired = T0 + LEASE
    again = claim(seeded, expired, "second")  # the worker is gone: its job, not the next, is taken
    assert again is not None and (again.id, again.attempts, again.lease_token) == ("a0", 2, "second")
    assert claim(seeded, expired, "third") is None


def test_a_job_backing_off_holds_back_its_partners_later_jobs(seeded: StoreUnderTest) -> None:
    """A partner's next job is its oldest unfinished one; while that one waits out its backoff,
    the partner waits (a later feed applied first would leave stale data)."""
    submit(seeded, "acme", "a0", "a1")
    job = claim(seeded, T0, "t1")
    assert job is not None and job.id == "a0"
    retry_at = T0 + timedelta(minutes=1)
    with seeded.unit_of_work() as uow:
        assert uow.jobs.fail(Lease("a0", "t1", T0), "boom", retry_at, T0)
        uow.commit()
    assert claim(seeded, T0 + timedelta(seconds=59), "t2") is None
    again = claim(seeded, retry_at, "t3")
    assert again is not None and again.id == "a0"


def test_a_dead_job_no_longer_holds_back_its_partner_and_a_revived_one_comes_first(
    seeded: StoreUnderTest,
) -> None:
    submit(seeded, "acme", "a0", "a1", "a2")
    job = claim(seeded, T0, "t1")
    assert job is not None and job.id == "a0"
    with seeded.unit_of_work() as uow:
        assert uow.jobs.fail(Lease("a0", "t1", T0), "never processable", None, T0)
        uow.commit()
    nxt = claim(seeded, T0, "t2")
    assert nxt is not None and nxt.id == "a1"
    complete(seeded, nxt, T0)
    with seeded.unit_of_work() as uow:
        assert uow.jobs.revive("a0", T0)
        uow.commit()
    revived = claim(seeded, T0, "t3")  # in its place in the submission order: before a2
    assert revived is not None and (revived.id, revived.attempts) == ("a0", 1)


def test_cancel_stops_a_queued_or_running_job_and_frees_its_partner(seeded: StoreUnderTest) -> None:
    submit(seeded, "acme", "a0", "a1", "a2")
    running = claim(seeded, T0, "t1")
    assert running is not None and running.id == "a0"
    with seeded.unit_of_work() as uow:
        assert uow.jobs.cancel("a1", T0)  # queued
        assert uow.jobs.cancel("a0", T0)  # running: its lease is gone
        assert not uow.jobs.cancel("a0", T0)  # finished already
        assert not uow.jobs.cancel("nope", T0)
        lease = Lease("a0", "t1", T0)
        assert not uow.jobs.complete(lease, report("a0"), T0)
        assert not uow.jobs.renew(lease, T0 + LEASE)
        assert not uow.jobs.release(lease, T0)
        assert not uow.jobs.revive("a0", T0)
        uow.commit()
    cancelled = get(seeded, "a0")
    assert (cancelled.status, cancelled.finished_at, cancelled.lease_token) == (JobStatus.CANCELLED, T0, None)
    nxt = claim(seeded, T0, "t2")
    assert nxt is not None and nxt.id == "a2"
    with seeded.unit_of_work(read_only=True) as uow:
        assert uow.jobs.status_counts()[JobStatus.CANCELLED] == 2


def test_bodies_go_as_the_retention_says_and_the_kept_ones_are_counted(seeded: StoreUnderTest) -> None:
    body = b"x" * 3000
    submit(seeded, "acme", "ok", body=body)
    submit(seeded, "globex", "dead", body=body)
    submit(seeded, "initech", "gone", "open", body=body)
    for job_id, token in (("ok", "t1"), ("dead", "t2"), ("gone", "t3")):
        job = claim(seeded, T0, token)
        assert job is not None and job.id == job_id, job
    with seeded.unit_of_work() as uow:
        assert uow.jobs.complete(Lease("ok", "t1", T0), report("ok"), T0)
        assert uow.jobs.fail(Lease("dead", "t2", T0), "boom", None, T0)
        assert uow.jobs.cancel("gone", T0)
        assert uow.jobs.stored_bodies() == StoredBodies(4, 4 * 3000)
        uow.commit()
    retention = BodyRetention(finished=timedelta(hours=1), dead=timedelta(days=2))

    def purge(at: datetime) -> int:
        with seeded.unit_of_work() as uow:
            purged = uow.jobs.purge_bodies(retention, at)
            uow.commit()
        return purged

    assert purge(T0 + timedelta(minutes=59)) == 0
    assert purge(T0 + timedelta(hours=1)) == 2  # succeeded and cancelled
    with seeded.unit_of_work(read_only=True) as uow:
        assert uow.jobs.stored_bodies() == StoredBodies(2, 2 * 3000)  # the dead one and the queued one
        with pytest.raises(NotFoundError):
            uow.jobs.open_body("ok")
        assert uow.jobs.open_body("dead").read() == body
    assert get(seeded, "ok").body_purged_at == T0 + timedelta(hours=1)
    assert get(seeded, "open").body_purged_at is None

    late = T0 + timedelta(days=2)
    assert purge(late) == 1
    with seeded.unit_of_work() as uow:
        assert not uow.jobs.revive("dead", late)  # nothing left to process
        assert uow.jobs.stored_bodies() == StoredBodies(1, 3000)
        uow.commit()
    assert get(seeded, "dead").status is JobStatus.DEAD
    assert purge(late + timedelta(days=365)) == 0  # an open job's body is never purged


def test_the_purge_takes_the_oldest_first_a_batch_at_a_time(seeded: StoreUnderTest) -> None:
    submit(seeded, "acme", *(f"a{n}" for n in range(5)))
    for n in range(5):
        job = claim(seeded, T0, f"t{n}")
        assert job is not None
        complete(seeded, job, T0 + timedelta(seconds=n))
    now = T0 + timedelta(minutes=1)
    with seeded.unit_of_work() as uow:
        assert uow.jobs.purge_bodies(BodyRetention(), now, limit=3) == 3
        uow.commit()
    assert [get(seeded, f"a{n}").body_purged_at is not None for n in range(5)] == [True] * 3 + [False] * 2
