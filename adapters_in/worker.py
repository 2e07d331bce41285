"""The worker: claims jobs and processes them, one at a time, until told to stop.

Run as its own process (`partner-ingest worker`, several at once if wanted) or
as a thread inside `serve` on the embedded default. While a feed runs, a
heartbeat extends the job's lease, so a long feed is not taken over by another
worker; a worker that dies stops the heartbeat, its lease expires, and the job
is claimed again. SIGTERM lets the current job finish and takes no new one; in
`serve`, a job still running when the shutdown grace period ends is given back
(`BackgroundWorker.stop`), so no job waits out a lease nobody renews.

`process_next_job_once(app)` processes exactly one job synchronously, with no
thread and no sleep: the helper deterministic tests use (T1, ADR 0012).
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from partner_ingest.domain.model.jobs import Job, Lease
from partner_ingest.domain.use_cases.jobs import JobResult, ProcessNextJob

from .bootstrap import Application

__all__ = ["BackgroundWorker", "Worker", "process_next_job_once"]

log: Final = logging.getLogger("partner_ingest.worker")


def process_next_job_once(app: Application) -> JobResult | None:
    """Claim and process the next available job now, in this thread; None when there is none."""
    return app.process_next_job()


class Worker:
    """The claim-process loop, with a lease heartbeat per job."""

    def __init__(self, process: ProcessNextJob, *, poll_seconds: float = 1.0, name: str = "worker") -> None:
        self._process = process
        self._poll = poll_seconds
        self.name = name
        self.processed = 0
        self._current: tuple[Lease, threading.Event] | None = None
        """The lease being worked on and its heartbeat's stop event (for `give_back`)."""

    def run_once(self) -> JobResult | None:
        """Claim one job and process it under a heartbeat; None when the queue is empty."""
        claimed = self._process.claim()
        if claimed is None:
            return None
        job, lease = claimed
        beat_stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(lease, beat_stop), name=f"{self.name}-heartbeat", daemon=True
        )
        beat.start()
        self._current = (lease, beat_stop)
        try:
            result = self._process.process(job, lease)
        finally:
            self._current = None
            beat_stop.set()
            beat.join()
        self.processed += 1
        _log_result(job, result)
        return result

    def run(self, stop: threading.Event) -> None:
        """Process jobs until `stop` is set; sleep `poll_seconds` when there is nothing to do."""
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                result = self.run_once()
            except Exception:  # the loop must outlive a database hiccup; the job's lease covers it
                log.exception("worker could not claim or finish a job; retrying", extra={"worker": self.name})
                stop.wait(self._poll)
                continue
            if result is None:
                stop.wait(self._poll)
        log.info("worker stopped", extra={"worker": self.name, "processed": self.processed})

    def give_back(self) -> str | None:
        """Stop renewing the current job's lease and release it; the job id, or None if idle.

        Called from another thread when the job cannot finish in time (shutdown). Safe
        whatever the processing thread does next: once released (or once its lease
        lapses, if the release cannot be written now) that thread can no longer
        complete or fail the job, and its work is rolled back.
        """
        current = self._current
        if current is None:
            return None
        lease, beat_stop = current
        beat_stop.set()
        try:
            released = self._process.release(lease)
        except Exception:  # e.g. SQLite still locked by the feed itself: the lease lapses instead
            log.warning(
                "could not release the job; it is taken again when its lease expires",
                extra={"worker": self.name, "job_id": lease.job_id},
                exc_info=True,
            )
            return lease.job_id
        log.info(
            "job given back" if released else "job finished or taken over before it could be given back",
            extra={"worker": self.name, "job_id": lease.job_id},
        )
        return lease.job_id

    def _heartbeat(self, lease: Lease, stop: threading.Event) -> None:
        interval = max(self._process.lease_for.total_seconds() / 3, 0.05)
        while not stop.wait(interval):
            try:
                if not self._process.extend(lease):
                    return  # finished or taken over: nothing left to extend
            except Exception:
                log.debug("lease heartbeat could not write; will try again", extra={"job_id": lease.job_id})


class BackgroundWorker:
    """A `Worker` in a daemon thread, for `serve` (the embedded default)."""

    def __init__(self, worker: Worker, *, grace_seconds: float = 30.0, release_seconds: float = 5.0) -> None:
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
        """Take no new job; let the current one finish, or give it back after the grace period.

        The release runs in a thread of its own and is waited for at most
        `release_seconds`: on SQLite the running feed holds the write lock, so the
        release may have to wait for it. If it cannot be written in time, the lease is
        no longer renewed and lapses within `job_lease_seconds`: no job is lost, and
        none stays leased to a process that has gone.
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(self._grace)
        if not thread.is_alive():
            return
        giver = threading.Thread(target=self._worker.give_back, name=f"{self.name}-release", daemon=True)
        giver.start()
        giver.join(self._release)


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
