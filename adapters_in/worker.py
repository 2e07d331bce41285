"""The worker: claims jobs and processes them, one at a time, until told to stop.

Run as its own process (`partner-ingest worker`, several at once if wanted) or
as a thread inside `serve` on the embedded default. While a feed runs, a
heartbeat extends the job's lease, so a long feed is not taken over by another
worker; a worker that dies stops the heartbeat, its lease expires, and the job
is claimed again. The heartbeat also notices a lease that is gone (the job
was cancelled): the feed then stops at its next read and nothing it wrote is
committed. Between jobs, the worker deletes the feed bodies whose retention
is over (`PurgeJobBodies`, every `purge_seconds`). SIGTERM lets the current
job finish and takes no new one; a
job still running when the shutdown grace period ends is interrupted
(`Worker.interrupt`): its feed stops at the next read, everything it wrote is
rolled back, and the job is released, queued again for the next worker with the
attempt not counted. No job is lost, and none waits out a lease nobody renews.

`process_next_job_once(app)` processes exactly one job synchronously, with no
thread and no sleep: the helper deterministic tests use (T1, ADR 0012).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from partner_ingest.domain.model.jobs import Job, Lease
from partner_ingest.domain.model.webhooks import Delivery
from partner_ingest.domain.use_cases.jobs import JobProgress, JobResult, ProcessNextJob

from .bootstrap import Application

__all__ = ["BackgroundWorker", "Worker", "deliver_webhooks_once", "process_next_job_once"]

log: Final = logging.getLogger("partner_ingest.worker")
_CHECK_SECONDS: Final = 1.0
"""How often a running job's heartbeat looks whether its lease is still held."""
_DELIVERIES_PER_PASS: Final = 20


def process_next_job_once(app: Application) -> JobResult | None:
    """Claim and process the next available job now, in this thread; None when there is none."""
    return app.process_next_job()


def deliver_webhooks_once(app: Application) -> Delivery | None:
    """One attempt at the next due webhook delivery, now, in this thread; None when none is due."""
    return app.deliver_webhooks()


class Worker:
    """The claim-process loop, with a lease heartbeat per job."""

    def __init__(
        self,
        process: ProcessNextJob,
        *,
        poll_seconds: float = 1.0,
        name: str = "worker",
        purge: Callable[[], int] | None = None,
        purge_seconds: float = 300.0,
        interrupt: threading.Event | None = None,
        deliver: Callable[[], object | None] | None = None,
    ) -> None:
        """`interrupt`, once set (from any thread), does what `interrupt()` does. `deliver` makes
        one attempt at the next due webhook delivery (None: nothing was due); the worker calls it
        between jobs."""
        self._process = process
        self._deliver = deliver
        self._poll = poll_seconds
        self.name = name
        self.processed = 0
        self._interrupt = interrupt if interrupt is not None else threading.Event()
        self._purge = purge
        self._purge_every = purge_seconds
        self._next_purge = time.monotonic()  # the first pass purges at once

    def run_once(self) -> JobResult | None:
        """Claim one job and process it under a heartbeat; None when the queue is empty."""
        claimed = self._process.claim()
        if claimed is None:
            return None
        job, lease = claimed
        beat_stop, lost = threading.Event(), threading.Event()
        progress = JobProgress()
        beat = threading.Thread(
            target=self._heartbeat,
            args=(lease, beat_stop, lost, progress),
            name=f"{self.name}-heartbeat",
            daemon=True,
        )
        beat.start()

        def interrupted() -> bool:
            return self._interrupt.is_set() or lost.is_set()

        try:
            result = self._process.process(job, lease, interrupted=interrupted, progress=progress)
        finally:
            beat_stop.set()
            beat.join()
        self.processed += 1
        _log_result(job, result)
        return result

    def run(self, stop: threading.Event) -> None:
        """Process jobs until `stop` is set; sleep `poll_seconds` when there is nothing to do."""
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            self.purge_if_due()
            self.deliver_due(stop)
            try:
                result = self.run_once()
            except Exception:  # the loop must outlive a database hiccup; the job's lease covers it
                log.exception("worker could not claim or finish a job; retrying", extra={"worker": self.name})
                stop.wait(self._poll)
                continue
            if result is None:
                stop.wait(self._poll)
        log.info("worker stopped", extra={"worker": self.name, "processed": self.processed})

    def deliver_due(self, stop: threading.Event | None = None) -> int:
        """Attempt the webhook deliveries due now, at most `_DELIVERIES_PER_PASS` (jobs are not held
        back longer); how many. A store or receiver that fails is tried again next pass."""
        attempted = 0
        while self._deliver is not None and attempted < _DELIVERIES_PER_PASS:
            if stop is not None and stop.is_set():
                break
            try:
                if self._deliver() is None:
                    break
            except Exception:
                log.warning(
                    "could not deliver a webhook; will try again", exc_info=True, extra={"worker": self.name}
                )
                break
            attempted += 1
        return attempted

    def purge_if_due(self) -> int:
        """Delete the feed bodies whose retention is over, when `purge_seconds` have passed
        since the last time; how many. A store that cannot serve now is tried next time."""
        if self._purge is None or time.monotonic() < self._next_purge:
            return 0
        self._next_purge = time.monotonic() + self._purge_every
        try:
            purged = self._purge()
        except Exception:
            log.warning(
                "could not purge job bodies or diagnostics; will try again",
                exc_info=True,
                extra={"worker": self.name},
            )
            return 0
        if purged:
            log.info("purged job bodies and diagnostics", extra={"worker": self.name, "purged": purged})
        return purged

    def interrupt(self) -> None:
        """Stop the current job at its next read and release it (from any thread; shutdown).

        Sticky: a worker interrupted once releases every job it claims afterwards, so
        call it only when this worker is to take no more work (set the `run` stop event too).
        """
        self._interrupt.set()

    def _heartbeat(
        self, lease: Lease, stop: threading.Event, lost: threading.Event, progress: JobProgress
    ) -> None:
        """Renew the lease every third of it, recording how far the feed has been read; in
        between, check every second that it is still held, so that a cancelled job stops soon.
        Once it is not, `lost` stops the feed."""
        renew_every = max(self._process.lease_for.total_seconds() / 3, 0.05)
        next_renew = time.monotonic() + renew_every
        while not stop.wait(min(renew_every, _CHECK_SECONDS)):
            try:
                if time.monotonic() >= next_renew:
                    held = self._process.renew(lease, progress)
                    next_renew = time.monotonic() + renew_every
                else:
                    held = self._process.holds(lease)
            except Exception:
                log.debug(
                    "lease heartbeat could not reach the store; will try again",
                    extra={"job_id": lease.job_id},
                )
                continue
            if not held:
                lost.set()  # cancelled, or taken over after it expired: nothing left to renew
                return


class BackgroundWorker:
    """A `Worker` in a daemon thread, for `serve` (the embedded default)."""

    def __init__(self, worker: Worker, *, grace_seconds: float = 30.0, release_seconds: float = 30.0) -> None:
        self._worker = worker
        self._grace = grace_seconds
        self._release = release_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = worker.name

    def start(self) -> None:
        """Start processing in the background."""
        self._thread = threading.Thread(
            target=self._worker.run, args=(self._stop,), name=self._worker.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Take no new job; let the current one finish, or release it after `grace_seconds`.

        Waits for the thread to end either way (the interrupted feed rolls back first,
        at most `release_seconds`), so that nothing uses the store once this returns:
        the caller closes it next.
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(self._grace)
        if not thread.is_alive():
            return
        log.info("shutdown grace period over: releasing the current job", extra={"worker": self.name})
        self._worker.interrupt()
        thread.join(self._release)
        if thread.is_alive():
            log.error(
                "worker still busy after the interrupt; its job is taken again once its lease lapses",
                extra={"worker": self.name},
            )


def _log_result(job: Job, result: JobResult) -> None:
    report = result.report
    log.info(
        "job processed",
        extra={
            "job_id": job.id,
            "partner_id": job.partner_id,
            "outcome": str(result.outcome),
            "attempt": job.attempts,
            "status": None if report is None else str(report.status),
            "error": result.error,
        },
    )
