"""The scheduler: every few seconds, pull the partner feeds that are due.

Run as its own process (`partner-ingest scheduler`) or as a thread inside
`serve`. Several schedulers may run: each due schedule is claimed by exactly
one of them (see `ScheduleRepository.claim_due`).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from partner_ingest.domain.use_cases.pull_feeds import PullDueFeeds, PullResult

__all__ = ["BackgroundScheduler", "Scheduler"]

log: Final = logging.getLogger("partner_ingest.scheduler")


class Scheduler:
    """The polling loop around one `PullDueFeeds` pass."""

    def __init__(self, pull: PullDueFeeds, *, poll_seconds: float = 5.0) -> None:
        self._pull = pull
        self._poll = poll_seconds
        self.passes = 0

    def run_once(self) -> list[PullResult]:
        """One pass over the due schedules."""
        results = self._pull()
        self.passes += 1
        for result in results:
            log.info(
                "feed pulled",
                extra={
                    "schedule_id": result.schedule_id,
                    "partner_id": result.partner_id,
                    "outcome": result.outcome,
                    "job_id": result.job_id,
                    "anomaly": result.anomaly,
                },
            )
        return results

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set."""
        log.info("scheduler started")
        while not stop.is_set():
            try:
                busy = bool(self.run_once())
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("scheduler pass failed")
                busy = False
            if not busy:
                stop.wait(self._poll)
        log.info("scheduler stopped", extra={"passes": self.passes})


class BackgroundScheduler:
    """A `Scheduler` in a daemon thread, for `serve` (the embedded default)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start pulling in the background."""
        self._thread = threading.Thread(
            target=self._scheduler.run, args=(self._stop,), name="scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current pass, start no other."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
