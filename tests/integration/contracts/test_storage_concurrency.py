"""The queue and the schedules under concurrency, for every store: what one worker or scheduler
claims, no other gets, while all of them claim at once."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import (
    FeedStatus,
    ImportStatus,
    IngestCounts,
    IngestReport,
    Job,
    JobStatus,
    Lease,
    Partner,
    Schedule,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.jobs import SubmitFeedJob
from partner_ingest.plugins import load_formats

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
THREADS = 4


@pytest.fixture
def seeded(store: StoreUnderTest) -> StoreUnderTest:
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=T0))
        uow.commit()
    return store


def run_together(work: Callable[[int], None]) -> None:
    """Run `work(n)` on THREADS threads released at the same moment; re-raise the first failure."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            work(n)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    if failures:
        raise failures[0]


def test_workers_claiming_at_once_take_each_job_exactly_once_and_one_per_partner_at_a_time(
    seeded: StoreUnderTest,
) -> None:
    """Four workers claim and complete 60 jobs of four partners at once: every job is taken once,
    a partner never has two running jobs at any moment, and its jobs run in submission order."""
    partners = ["acme", "globex", "initech", "umbrella"]
    per_partner = 15
    with seeded.unit_of_work() as uow:
        for pid in partners[1:]:
            uow.partners.add(Partner(id=pid, name=pid, created_at=T0))
        for n in range(per_partner):
            for pid in partners:
                at = T0 + timedelta(milliseconds=n)
                job = Job(f"{pid}-{n:02d}", pid, "json", 2, JobStatus.QUEUED, at, at, f"h{n}", 2)
                uow.jobs.add(job, io.BytesIO(b"{}"))
        uow.commit()
    total = per_partner * len(partners)
    lock = threading.Lock()
    running: dict[str, str] = {}
    claims: list[tuple[str, str]] = []
    overlaps: list[str] = []

    def worker(n: int) -> None:
        deadline = time.monotonic() + 60
        attempt = 0
        while time.monotonic() < deadline:
            with lock:
                if len(claims) == total:
                    return
            attempt += 1
            token = f"w{n}-{attempt}"
            with seeded.unit_of_work() as uow:
                job = uow.jobs.claim(NOW, timedelta(minutes=5), token)
                time.sleep(0.002)  # hold the claim open while the other workers claim
                uow.commit()
            if job is None:
                time.sleep(0.001)
                continue
            with lock:
                if job.partner_id in running:
                    overlaps.append(f"{job.id} claimed while {running[job.partner_id]} runs")
                running[job.partner_id] = job.id
                claims.append((job.id, token))
            report = IngestReport(
                job.id, job.partner_id, "json", 2, FeedStatus.ACCEPTED, IngestCounts(0, 0, 0, 0, 0)
            )
            with seeded.unit_of_work() as uow:
                assert uow.jobs.complete(Lease(job.id, token, NOW), report, NOW)
                with lock:  # before the commit: until then the store still has it running
                    running.pop(job.partner_id, None)
                uow.commit()
        raise AssertionError("the workers did not finish the jobs in time")

    run_together(worker)
    assert overlaps == []
    per_job = Counter(job_id for job_id, _ in claims)
    assert per_job == Counter({f"{pid}-{n:02d}": 1 for pid in partners for n in range(per_partner)})
    for pid in partners:
        assert [j for j, _ in claims if j.startswith(pid)] == [f"{pid}-{n:02d}" for n in range(per_partner)]
    with seeded.unit_of_work(read_only=True) as uow:
        counts = uow.jobs.status_counts()
    assert counts[JobStatus.SUCCEEDED] == total and counts[JobStatus.RUNNING] == 0


def test_schedulers_claiming_at_once_take_each_due_schedule_exactly_once(seeded: StoreUnderTest) -> None:
    count = 40
    with seeded.unit_of_work() as uow:
        for n in range(count):
            uow.schedules.add(
                Schedule(f"s{n:03d}", "acme", next_run_at=T0 + timedelta(seconds=n), interval_seconds=300)
            )
        uow.schedules.add(
            Schedule("later", "acme", next_run_at=NOW + timedelta(minutes=1), interval_seconds=300)
        )
        uow.commit()
    claimed: list[str] = []

    def scheduler(n: int) -> None:
        for _ in range(count + 1):
            with seeded.unit_of_work() as uow:
                due = uow.schedules.claim_due(NOW, NOW + timedelta(minutes=10), limit=3)
                time.sleep(0.005)  # hold the claimed rows while the other schedulers claim
                uow.commit()
            if not due:
                return
            claimed.extend(s.id for s in due)
        raise AssertionError("more claims than due schedules")

    run_together(scheduler)
    assert sorted(claimed) == [f"s{n:03d}" for n in range(count)]  # each once, "later" never
    with seeded.unit_of_work(read_only=True) as uow:
        held = {s.id: s.next_run_at for s in uow.schedules.all("acme")}
    assert held.pop("later") == NOW + timedelta(minutes=1)
    assert set(held.values()) == {NOW + timedelta(minutes=10)}


def test_submissions_racing_under_one_idempotency_key_store_one_job_and_all_answer_it(
    seeded: StoreUnderTest,
) -> None:
    """A client's retry that reaches another instance while the first submission still runs:
    every submitter is answered with the one job stored, none with a conflict."""
    submit = SubmitFeedJob(seeded.unit_of_work, load_formats(), FakeClock(NOW), UuidIds())
    body = b'{"products": []}'
    for round_ in range(5):  # a few rounds: the race is between the lookup and the insert
        key = f"retried-{round_}"
        answered: list[str] = []

        def client(n: int, key: str = key, answered: list[str] = answered) -> None:
            sent = FeedSubmission(
                partner_id="acme", body=io.BytesIO(body), format="json", version=1, idempotency_key=key
            )
            answered.append(submit(sent, body_bytes=len(body), content_hash="h").id)

        run_together(client)
        with seeded.unit_of_work(read_only=True) as uow:
            stored = uow.jobs.by_idempotency_key("acme", key)
            jobs = [j for j in uow.jobs.recent(partner_id="acme", limit=100) if j.idempotency_key == key]
        assert stored is not None
        assert answered == [stored.id] * THREADS
        assert [j.id for j in jobs] == [stored.id]


def test_feeds_racing_under_one_idempotency_key_are_applied_once_and_all_answer_its_report(
    seeded: StoreUnderTest,
) -> None:
    """The same for a feed ingested while the client waits: one import, one report for all."""
    ingest = IngestFeed(seeded.unit_of_work, load_formats(), FakeClock(NOW), UuidIds())
    for round_ in range(5):
        key = f"sync-{round_}"
        body = f'{{"products": [{{"sku": "S-{round_}", "name": "N", "price": 1, "currency": "EUR", "quantity": 1}}]}}'
        answered: list[str] = []

        def client(
            n: int, key: str = key, body: bytes = body.encode(), answered: list[str] = answered
        ) -> None:
            sent = FeedSubmission(
                partner_id="acme", body=io.BytesIO(body), format="json", version=1, idempotency_key=key
            )
            answered.append(ingest(sent).feed_id)

        run_together(client)
        with seeded.unit_of_work(read_only=True) as uow:
            stored = uow.imports.by_idempotency_key("acme", key)
        assert stored is not None and stored.status is ImportStatus.APPLIED
        assert answered == [stored.id] * THREADS
