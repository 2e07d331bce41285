"""Every store against the job state machine: a hypothesis `RuleBasedStateMachine` (ADR 0012, 0025).

The model is the domain itself: each rule applies a `Job` transition (and the
queue's `next_claim`) to the model's jobs and the same operation to the store,
and the two must agree on the answer and on every job afterwards. Submit,
claim, renew, complete, fail (to a retry or dead), release, revive, cancel,
time passing (leases expire, backoffs end) and the body purge are drawn in any
order, with current and stale lease tokens. Beside the model, invariants any
queue must keep are checked on their own: at most one running job per
partner, a partner's jobs started in submission order, stored bodies counted
exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support.sqlite_files import migrated_database
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import InMemoryStore
from partner_ingest.adapters_out.memory.jobs import JobTables
from partner_ingest.adapters_out.sqlite.store import SqliteStore
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
    PartnerQueue,
    next_claim,
)
from partner_ingest.ports.repositories import StoredBodies

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
PARTNERS = ("acme", "globex", "initech")
JOB_TABLES = ("partner_ingest_job_bodies", "partner_ingest_jobs", "partner_ingest_job_queues")


def empty_queue(store: StoreUnderTest) -> None:
    """Forget every job, keeping the partners (a fresh store per example would cost a migration)."""
    if isinstance(store, InMemoryStore):
        store.tables.jobs = JobTables()
    elif isinstance(store, SqliteStore):
        conn = store.connection()
        for table in JOB_TABLES:
            conn.execute(f"DELETE FROM {table}")
    else:
        with store.connection() as conn:  # type: ignore[attr-defined]  # PostgresStore
            for table in JOB_TABLES:
                conn.execute(f"DELETE FROM {table}")


class JobLifecycle(RuleBasedStateMachine):
    """One store, driven by random operations, compared with the domain's transitions."""

    store: StoreUnderTest

    def __init__(self) -> None:
        super().__init__()
        empty_queue(self.store)
        self.now = T0
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.last_claims: dict[str, int] = {}
        self.tokens: dict[str, list[str]] = {}
        self.started: dict[str, list[str]] = {}
        self.issued = 0

    # --- helpers ----------------------------------------------------------------------

    def pick(self, index: int) -> Job:
        return self.jobs[self.order[index % len(self.order)]]

    def token_for(self, job: Job, current: bool) -> str:
        """The job's current lease token, or one it held before (or never had)."""
        if current and job.lease_token is not None:
            return job.lease_token
        stale = [t for t in self.tokens.get(job.id, []) if t != job.lease_token]
        return stale[-1] if stale else "never-issued"

    def expect(self, job_id: str, after: Job | None, done: bool) -> None:
        """The store's answer must be the transition's: done exactly when the rule allowed it."""
        assert done is (after is not None), f"{job_id}: store said {done}, the model {after is not None}"
        if after is not None:
            self.jobs[job_id] = after

    def write(self, action: Callable[..., bool], *args: object) -> bool:
        with self.store.unit_of_work() as uow:
            done = action(uow.jobs, *args)
            uow.commit()
        return done

    # --- rules ------------------------------------------------------------------------

    @rule(partner=st.sampled_from(PARTNERS), size=st.integers(0, 2000), byte=st.integers(0, 255))
    def submit(self, partner: str, size: int, byte: int) -> None:
        job_id = f"j{len(self.order):03d}"
        body = bytes([byte]) * size
        job = Job(job_id, partner, "json", 2, JobStatus.QUEUED, self.now, self.now, "h" + job_id, size)
        with self.store.unit_of_work() as uow:
            uow.jobs.add(job, io.BytesIO(body))
            uow.commit()
        self.jobs[job_id] = job
        self.order.append(job_id)
        self.bodies[job_id] = body

    @rule()
    def claim(self) -> None:
        self.issued += 1
        token = f"t{self.issued}"
        queues = [
            PartnerQueue(
                pid,
                [
                    self.jobs[i]
                    for i in self.order
                    if self.jobs[i].partner_id == pid and not self.jobs[i].status.finished
                ],
                self.last_claims.get(pid),
            )
            for pid in PARTNERS
        ]
        chosen = next_claim(queues, self.now)
        with self.store.unit_of_work() as uow:
            got = uow.jobs.claim(self.now, LEASE, token)
            uow.commit()
        assert (None if got is None else got.id) == (None if chosen is None else chosen.id)
        if chosen is None:
            return
        claimed = chosen.claim(self.now, LEASE, token)
        assert claimed is not None and got == claimed
        self.jobs[claimed.id] = claimed
        self.tokens.setdefault(claimed.id, []).append(token)
        self.last_claims[claimed.partner_id] = max(self.last_claims.values(), default=0) + 1
        started = self.started.setdefault(claimed.partner_id, [])
        if claimed.id not in started:
            started.append(claimed.id)

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6), current=st.booleans(), ahead=st.integers(1, 90))
    def renew(self, index: int, current: bool, ahead: int) -> None:
        job = self.pick(index)
        token, until = self.token_for(job, current), self.now + timedelta(seconds=ahead)
        done = self.write(lambda jobs: jobs.renew(Lease(job.id, token, until), until))
        self.expect(job.id, job.renew(token, until), done)

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6), current=st.booleans())
    def complete(self, index: int, current: bool) -> None:
        job = self.pick(index)
        token = self.token_for(job, current)
        report = IngestReport(
            job.id, job.partner_id, "json", 2, FeedStatus.ACCEPTED, IngestCounts(1, 1, 0, 0, 0)
        )
        done = self.write(lambda jobs: jobs.complete(Lease(job.id, token, self.now), report, self.now))
        self.expect(job.id, job.complete(token, report, self.now), done)

    @precondition(lambda self: self.order)
    @rule(
        index=st.integers(0, 10**6),
        current=st.booleans(),
        retry_in=st.one_of(st.none(), st.integers(0, 120)),
    )
    def fail(self, index: int, current: bool, retry_in: int | None) -> None:
        job = self.pick(index)
        token = self.token_for(job, current)
        retry_at = None if retry_in is None else self.now + timedelta(seconds=retry_in)
        error = f"attempt {job.attempts} failed"
        done = self.write(lambda jobs: jobs.fail(Lease(job.id, token, self.now), error, retry_at, self.now))
        self.expect(job.id, job.fail(token, error, self.now, retry_at), done)

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6), current=st.booleans())
    def release(self, index: int, current: bool) -> None:
        job = self.pick(index)
        token = self.token_for(job, current)
        done = self.write(lambda jobs: jobs.release(Lease(job.id, token, self.now), self.now))
        self.expect(job.id, job.release(token, self.now), done)

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6))
    def revive(self, index: int) -> None:
        job = self.pick(index)
        done = self.write(lambda jobs: jobs.revive(job.id, self.now))
        self.expect(job.id, job.revive(self.now), done)

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6))
    def cancel(self, index: int) -> None:
        job = self.pick(index)
        done = self.write(lambda jobs: jobs.cancel(job.id, self.now))
        self.expect(job.id, job.cancel(self.now), done)

    @rule(seconds=st.sampled_from([1, 10, 29, 30, 31, 60, 300]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(finished=st.sampled_from([0, 60, 600]), dead=st.sampled_from([0, 300, 3600]))
    def purge(self, finished: int, dead: int) -> None:
        retention = BodyRetention(finished=timedelta(seconds=finished), dead=timedelta(seconds=dead))
        with self.store.unit_of_work() as uow:
            purged = uow.jobs.purge_bodies(retention, self.now)
            uow.commit()
        expected = 0
        for job_id in self.order:
            after = self.jobs[job_id].purge_body(self.now, retention)
            if after is not None:
                self.jobs[job_id] = after
                del self.bodies[job_id]
                expected += 1
        assert purged == expected

    @precondition(lambda self: self.order)
    @rule(index=st.integers(0, 10**6))
    def read_body(self, index: int) -> None:
        job = self.pick(index)
        with self.store.unit_of_work(read_only=True) as uow:
            if job.id in self.bodies:
                with uow.jobs.open_body(job.id) as stream:
                    assert stream.read() == self.bodies[job.id]
            else:
                with pytest.raises(NotFoundError):
                    uow.jobs.open_body(job.id)

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def the_store_holds_what_the_model_holds(self) -> None:
        with self.store.unit_of_work(read_only=True) as uow:
            stored = {job.id: job for job in uow.jobs.recent(limit=10_000)}
            counts = dict(uow.jobs.status_counts())
            kept = uow.jobs.stored_bodies()
        assert stored == self.jobs
        assert counts == {status: sum(j.status is status for j in self.jobs.values()) for status in JobStatus}
        assert kept == StoredBodies(len(self.bodies), sum(len(b) for b in self.bodies.values()))

    @invariant()
    def a_partner_has_at_most_one_running_job_and_starts_its_jobs_in_submission_order(self) -> None:
        for pid in PARTNERS:
            running = [j for j in self.jobs.values() if j.partner_id == pid and j.status is JobStatus.RUNNING]
            assert len(running) <= 1, running
            started = self.started.get(pid, [])
            assert started == sorted(started), f"{pid} started {started}"


def sql_examples() -> int:
    """SQL stores run fewer examples than the profile's (each step is a few transactions)."""
    return max(10, settings().max_examples // 10)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_every_store_follows_the_job_state_machine(kind: str, tmp_path: Path) -> None:
    store: StoreUnderTest
    if kind == "memory":
        store = InMemoryStore()
    elif kind == "sqlite":
        store = SqliteStore(migrated_database(tmp_path / "machine.db"))
    else:
        from support.postgres import postgres_store

        with postgres_store() as pg:
            run_machine(pg, max_examples=sql_examples())
        return
    run_machine(store, max_examples=settings().max_examples if kind == "memory" else sql_examples())


def run_machine(store: StoreUnderTest, *, max_examples: int) -> None:
    with store.unit_of_work() as uow:
        for pid in PARTNERS:
            uow.partners.add(Partner(id=pid, name=pid.title(), created_at=T0))
        uow.commit()
    machine = type("JobLifecycleOnStore", (JobLifecycle,), {"store": store})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=max_examples, stateful_step_count=30, deadline=None)
    )
