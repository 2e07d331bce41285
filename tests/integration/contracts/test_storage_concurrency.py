"""The queue, the schedules and the admin keys under concurrency, for every store: what one worker
or scheduler claims, no other gets, while all of them claim at once; two admins revoking the last
two admin keys at once leave one."""

from __future__ import annotations

import contextlib
import hashlib
import io
import secrets
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
    IdempotencyKeyNamesJob,
    IdempotencyKeyReused,
    ImportStatus,
    IngestCounts,
    IngestReport,
    Job,
    JobStatus,
    KeyRole,
    Lease,
    Partner,
    Schedule,
)
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.jobs import SubmitFeedJob
from partner_ingest.domain.use_cases.manage_keys import KeyStatus, LastAdminKeyError, ManageKeys
from partner_ingest.plugins import load_formats
from partner_ingest.ports import UnitOfWork

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
            job = submit(sent, body_bytes=len(body), content_hash="h")
            assert isinstance(job, Job)
            answered.append(job.id)

        run_together(client)
        with seeded.unit_of_work(read_only=True) as uow:
            use = uow.idempotency_keys.get("acme", key)
            jobs = [j for j in uow.jobs.recent(partner_id="acme", limit=100) if j.idempotency_key == key]
        assert use is not None and use.job_id is not None
        assert answered == [use.job_id] * THREADS
        assert [j.id for j in jobs] == [use.job_id]


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
            use = uow.idempotency_keys.get("acme", key)
            stored = uow.imports.get(use.feed_id) if use is not None and use.feed_id else None
        assert stored is not None and stored.status is ImportStatus.APPLIED
        assert answered == [stored.id] * THREADS


class _CommitsTogether:
    """A store's writing units of work whose `commit` first waits (up to `patience` seconds)
    for another thread's: two revocations that each read the admin keys before either
    commits really overlap, unless the store itself makes the second one wait."""

    def __init__(self, store: StoreUnderTest, patience: float) -> None:
        self._store = store
        self._barrier = threading.Barrier(2, timeout=patience)

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        inner = self._store.unit_of_work(read_only=read_only)
        if read_only:
            return inner
        barrier = self._barrier
        original = inner.commit

        def commit() -> None:
            # Broken: the other one waits for this one (the store serializes them), so go first.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            original()

        inner.commit = commit  # type: ignore[method-assign]
        return inner


def test_two_admins_revoking_the_last_two_admin_keys_at_once_leave_one(seeded: StoreUnderTest) -> None:
    clock = FakeClock(NOW)
    setup = ManageKeys(seeded.unit_of_work, clock, server_secret=b"s" * 32, random_bytes=secrets.token_bytes)
    first, second = (setup.create(KeyRole.ADMIN, actor="system").key.id for _ in range(2))
    racing = ManageKeys(
        _CommitsTogether(seeded, patience=0.5),
        clock,
        server_secret=b"s" * 32,
        random_bytes=secrets.token_bytes,
    )
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def revoke(key_id: str) -> None:
        start.wait()
        try:
            racing.revoke(key_id, actor=f"admin:{key_id}")
            outcomes[key_id] = "revoked"
        except LastAdminKeyError:
            outcomes[key_id] = "refused"

    threads = [threading.Thread(target=revoke, args=(key_id,)) for key_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a revocation hung"
    assert sorted(outcomes.values()) == ["refused", "revoked"], outcomes
    assert [k.status for k in setup.list_keys(None)].count(KeyStatus.ACTIVE) == 1


def test_a_feed_and_a_job_racing_under_one_key_share_it_one_wins_and_the_others_answer_it(
    seeded: StoreUnderTest,
) -> None:
    """One key space per partner: half the clients send the feed at once, half as a job, with
    the same key; exactly one of them is processed or stored, and every one answers it (a
    sync answer to a job still queued is the conflict naming the job)."""
    formats = load_formats()
    ingest = IngestFeed(seeded.unit_of_work, formats, FakeClock(NOW), UuidIds())
    submit = SubmitFeedJob(seeded.unit_of_work, formats, FakeClock(NOW), UuidIds())
    for round_ in range(4):
        key = f"shared-{round_}"
        body = f'{{"products": [{{"sku": "K-{round_}", "name": "N", "price": 1, "currency": "EUR", "quantity": 1}}]}}'.encode()
        answers: list[str] = []

        def client(n: int, key: str = key, body: bytes = body, answers: list[str] = answers) -> None:
            sent = FeedSubmission(
                partner_id="acme", body=io.BytesIO(body), format="json", version=1, idempotency_key=key
            )
            if n % 2:
                result = submit(sent, body_bytes=len(body), content_hash=hashlib.sha256(body).hexdigest())
                answers.append(result.id if isinstance(result, Job) else result.feed_id)
            else:
                try:
                    answers.append(ingest(sent).feed_id)
                except IdempotencyKeyNamesJob as named:
                    answers.append(named.job_id)

        run_together(client)
        with seeded.unit_of_work(read_only=True) as uow:
            use = uow.idempotency_keys.get("acme", key)
            jobs = [j for j in uow.jobs.recent(partner_id="acme", limit=100) if j.idempotency_key == key]
            imports = [e for e in uow.imports.recent("acme", limit=100) if e.idempotency_key == key]
        assert use is not None
        winner = use.feed_id or use.job_id
        assert answers == [winner] * THREADS
        assert len(jobs) + len(imports) == 1


def test_different_requests_racing_under_one_key_apply_one_and_refuse_the_rest(
    seeded: StoreUnderTest,
) -> None:
    ingest = IngestFeed(seeded.unit_of_work, load_formats(), FakeClock(NOW), UuidIds())
    applied: list[str] = []
    refused: list[tuple[str, ...]] = []

    def client(n: int) -> None:
        body = (
            f'{{"products": [{{"sku": "D-{n}", "name": "N", "price": 1, "currency": "EUR", "quantity": 1}}]}}'
        )
        sent = FeedSubmission(
            partner_id="acme", body=io.BytesIO(body.encode()), format="json", version=1, idempotency_key="k"
        )
        try:
            applied.append(ingest(sent).feed_id)
        except IdempotencyKeyReused as error:
            refused.append(error.differs)

    run_together(client)
    assert len(applied) == 1 and refused == [("body",)] * (THREADS - 1)
    with seeded.unit_of_work(read_only=True) as uow:
        assert uow.products.count("acme") == 1
