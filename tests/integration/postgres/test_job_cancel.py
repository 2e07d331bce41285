"""A job cancelled while a worker runs it, on PostgreSQL, where the cancel commits beside the
running feed: the worker's heartbeat finds its lease gone, the feed stops at its next read, and
nothing it wrote is kept (on SQLite the cancel waits for the feed's writer, like every write)."""

from __future__ import annotations

import threading
import time

from support import workers
from support.postgres import postgres_database

from partner_ingest.adapters_in.worker import Worker
from partner_ingest.domain.model import JobStatus
from partner_ingest.domain.use_cases import JobOutcome, JobResult


def test_a_job_cancelled_mid_feed_stops_at_its_next_read_and_writes_nothing() -> None:
    # The heartbeat checks the lease every third of it: a short lease has the cancel noticed (and
    # the feed's progress recorded, the evidence the cancel waits for) every 0.1 s, so the feed
    # need only outlast that. The worker runs alone, so a late renewal loses it nothing.
    items = 100_000
    with postgres_database() as url:
        app = workers.app_for(url, job_lease_seconds=0.3)
        try:
            job = workers.submit(app, workers.feed(items))
            worker = Worker(app.process_next_job, name="cancel-test")
            results: list[JobResult | None] = []
            thread = threading.Thread(target=lambda: results.append(worker.run_once()))
            thread.start()
            workers.wait_for(
                lambda: app.jobs.get(job.id, partner_id=None).status is JobStatus.RUNNING, 60, "the claim"
            )
            workers.wait_for(
                lambda: app.jobs.get(job.id, partner_id=None).items_read > 0,
                60,
                "the feed to be read",
                every=0.01,
            )
            app.jobs.cancel(job.id, partner_id=None, actor="admin:test")
            cancelled_at = time.monotonic()
            thread.join(timeout=120)
            stopped_after = time.monotonic() - cancelled_at
            assert not thread.is_alive()
            [result] = results
            assert result is not None and result.outcome is JobOutcome.LEASE_LOST
            assert stopped_after < 10, f"the worker ran on for {stopped_after:.1f} s after the cancel"
            done = app.jobs.get(job.id, partner_id=None)
            assert done.status is JobStatus.CANCELLED and done.report is None
            with app.uow(read_only=True) as uow:
                assert uow.products.count("acme") == 0
                assert uow.imports.recent("acme") == []
        finally:
            app.close()
