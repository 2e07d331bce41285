"""Real processes on every SQL store: a process killed mid-feed leaves all of the feed or none
of it; a worker killed mid-job leaves nothing and another finishes the job as if uninterrupted;
jobs spread over three worker processes are each completed exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from support import workers
from support.examples import at_scale
from support.sql_stores import KINDS, SqlKit, sql_kit
from support.sqlite_wal import WalWatch

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model import JobStatus

MEMORY_FILES = Path("/dev/shm")
ROOM = 1 << 30
"""Free space the memory file system must have (a container's is often 64 MiB): the largest
database here holds 100,000 products beside their WAL."""


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlKit]:
    """A fresh, unmigrated database of each kind whose commits wait for no disk: SQLite's file
    on a memory file system (where the machine has one with room), PostgreSQL's sessions committing
    without waiting for the WAL flush. What these tests kill are client processes, never
    the machine or the server, so what a commit promises them does not rest on the flush."""
    if request.param == "sqlite" and MEMORY_FILES.is_dir() and shutil.disk_usage(MEMORY_FILES).free > ROOM:
        with (
            tempfile.TemporaryDirectory(dir=MEMORY_FILES) as folder,
            sql_kit("sqlite", Path(folder)) as fresh,
        ):
            yield fresh
        return
    with sql_kit(request.param, tmp_path) as fresh:
        if request.param == "postgres":
            fresh.url += quote(" -csynchronous_commit=off")  # joins the schema's options=, the URL's last
        yield fresh


def products_table(kit: SqlKit) -> list[tuple[str, str, Decimal, int]]:
    rows = kit.query("SELECT sku, name, price, quantity FROM product WHERE partner_id = 'acme' ORDER BY sku")
    return [(str(sku), str(name), Decimal(price), int(quantity)) for sku, name, price, quantity in rows]


def child(kit: SqlKit, items: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "support.store_child", kit.url, "acme", str(items), *extra],
        env=workers.settings_env(kit.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_process_killed_mid_feed_leaves_all_or_nothing_and_the_ledger_agrees(kit: SqlKit) -> None:
    # Killed halfway: ten batches written in the open transaction in CI, three locally (the
    # all-or-nothing claim is the same for any number of batches past the first).
    items = at_scale(20_000, 6_000)
    workers.app_for(kit.url).close()  # migrated, with partner acme
    proc = child(kit, items, "--signal-after", str(items // 2))
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    assert line.strip() == "HALFWAY", proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()

    app = workers.app_for(kit.url)
    try:
        with app.uow(read_only=True) as uow:
            assert uow.products.count("acme") == 0
            assert uow.imports.recent("acme") == []

        finished = child(kit, items)  # the same feed, uninterrupted: all of it, one ledger entry
        out, err = finished.communicate(timeout=300)
        assert finished.returncode == 0, err[-2000:]
        assert out.split() == ["DONE", "accepted", str(items)]
        with app.uow(read_only=True) as uow:
            assert uow.products.count("acme") == items
            [entry] = uow.imports.recent("acme")
            assert entry.report.counts.created == items
    finally:
        app.close()


def writing_the_feed(kit: SqlKit, app: Application, job_id: str, wal: WalWatch) -> bool:
    """Evidence, seen from outside, that a worker is inside the job's feed with part of it written.

    PostgreSQL: the worker's heartbeat, committing beside the feed's transaction, has recorded
    items read (the pipeline writes each batch before it reads the next). SQLite: its single
    writer lets no heartbeat commit while the feed runs, but the feed's transaction has spilled
    written pages into the WAL past its last commit."""
    if kit.kind == "sqlite":
        return wal.uncommitted_frames() > 0
    return app.jobs.get(job_id, partner_id=None).items_read > 0


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_nothing_and_another_finishes_it_as_if_uninterrupted(
    kit: SqlKit,
) -> None:
    # Killed on evidence that the feed is being written, so the feed need only outlast the
    # poll that sees the evidence; the evidence is asserted again once the worker is dead.
    # PostgreSQL's comes within a heartbeat of the feed's start (then ~1,000-2,000 items in);
    # SQLite's only once the feed outgrows the writer's page cache (~20,000 items in), and the
    # rest of the feed leaves the test about half a second to kill the worker before its commit.
    items = 60_000 if kit.kind == "sqlite" else 20_000
    # A short lease: renewed every 0.05 s (the PostgreSQL evidence), and the second worker takes
    # the job over soon after the kill. Only one worker is alive at a time, so none takes the
    # job from a live worker whose heartbeat is late.
    lease = "0.15"
    # The feed is parsed in the worker's own thread: a parser helper process would be one more
    # interpreter start per worker, and the claim here is about the worker's transaction, which
    # a helper neither holds nor changes (tests/integration/test_parser_processes.py kills those).
    inline = "0"
    app = workers.app_for(kit.url)
    try:
        job = workers.submit(app, workers.feed(items))
        wal = WalWatch(Path(kit.url.removeprefix("sqlite:///")))  # SQLite's evidence
        first = workers.start(kit.url, "worker", job_lease_seconds=lease, parser_processes=inline)
        try:
            workers.wait_for(
                lambda: app.jobs.get(job.id, partner_id=None).status is JobStatus.RUNNING,
                60,
                "the first claim",
            )
            workers.wait_for(
                lambda: writing_the_feed(kit, app, job.id, wal), 60, "the feed to be written", every=0.01
            )
        finally:
            first.kill()
            first.wait(timeout=30)
            if first.stderr:
                first.stderr.close()

        killed = app.jobs.get(job.id, partner_id=None)
        assert killed.status is JobStatus.RUNNING and killed.attempts == 1
        assert writing_the_feed(kit, app, job.id, wal), "killed before the feed was written"
        if kit.kind == "postgres":
            assert killed.items_read < items, "the whole feed was read before the kill"
        with app.uow(read_only=True) as uow:
            assert uow.products.count("acme") == 0
            assert uow.imports.recent() == []

        second = workers.start(kit.url, "worker", job_lease_seconds=lease, parser_processes=inline)
        try:
            workers.wait_for(
                lambda: app.jobs.get(job.id, partner_id=None).status is JobStatus.SUCCEEDED, 300, "the retry"
            )
        finally:
            workers.stop(second)
        done = app.jobs.get(job.id, partner_id=None)
        assert done.attempts == 2 and done.report is not None and done.report.counts.created == items
        expected = [(f"SKU-{n:08d}", f"Item {n}", Decimal(f"{n % 997}.50"), n % 13) for n in range(items)]
        assert products_table(kit) == expected
        with app.uow(read_only=True) as uow:
            [entry] = uow.imports.recent()
        assert entry.job_id == job.id
    finally:
        app.close()


@pytest.mark.slow
def test_jobs_over_three_worker_processes_are_each_completed_exactly_once(kit: SqlKit) -> None:
    # Issue 5's figure in CI; locally fewer jobs meet the same checks: with ten partners' jobs
    # queued before three workers start, the claims race from the first poll to the last alike.
    count = at_scale(1000, 100)
    partners = [f"p{n}" for n in range(10)]  # a partner's jobs run one at a time: ten keep three workers busy
    app = workers.app_for(kit.url)
    try:
        workers.add_partners(app, *partners)
        jobs = [
            workers.submit(app, workers.feed(2, first=2 * n), partner_id=partners[n % 10])
            for n in range(count)
        ]
        procs = [workers.start(kit.url, "worker") for _ in range(3)]
        try:
            workers.wait_for(
                lambda: app.jobs.queue_depth()["succeeded"] == count, 300, f"{count} succeeded jobs"
            )
        finally:
            for proc in procs:
                workers.stop(proc)
        assert [proc.returncode for proc in procs] == [0, 0, 0]
        per_job = dict(kit.query("SELECT job_id, count(*) FROM partner_feed_imports GROUP BY job_id"))
        assert per_job == {job.id: 1 for job in jobs}
        assert kit.query("SELECT count(*), max(attempts) FROM partner_ingest_jobs") == [(count, 1)]
        with app.uow(read_only=True) as uow:
            assert [uow.products.count(pid) for pid in partners] == [2 * count // 10] * 10
    finally:
        app.close()


@pytest.mark.slow
def test_identical_feeds_taken_by_several_workers_at_once_apply_once_and_in_submission_order(
    kit: SqlKit,
) -> None:
    """The same feed sent three times without an Idempotency-Key, then a changed one: three workers
    start together, yet the copies never run side by side (only the first applies) and the change
    is applied last, as it was sent last."""
    # Each job runs long enough for the three workers' polls (every 0.05 s) to meet it while it
    # runs; CI's longer feeds widen that window further.
    items = at_scale(20_000, 5_000)
    app = workers.app_for(kit.url)
    try:
        same = workers.feed(items)
        changed = same.replace(b'"Item ', b'"Renamed ')
        jobs = [workers.submit(app, body) for body in (same, same, same, changed)]
        procs = [workers.start(kit.url, "worker") for _ in range(3)]
        try:
            workers.wait_for(
                lambda: app.jobs.queue_depth()["succeeded"] == len(jobs), 300, "the four jobs to succeed"
            )
        finally:
            for proc in procs:
                workers.stop(proc)
        applied = kit.query(
            "SELECT job_id FROM partner_feed_imports WHERE status = 'applied' ORDER BY completed_at, id"
        )
        assert [job_id for (job_id,) in applied] == [jobs[0].id, jobs[3].id]
        names = {name for _, name, _, _ in products_table(kit)}
        assert names == {f"Renamed {n}" for n in range(items)}
    finally:
        app.close()
