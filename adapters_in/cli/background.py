"""Background process commands: `worker` (process jobs) and `scheduler` (pull due partner feeds)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.logs import configure_logging
from partner_ingest.adapters_in.scheduler import Scheduler
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_in.worker import Worker

__all__ = ["register", "stop_on_signals"]


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the background commands."""
    worker = commands.add_parser(
        "worker",
        help="process submitted jobs until SIGTERM (several may run at once); a second SIGTERM releases the current job",
    )
    worker.add_argument("--once", action="store_true", help="process at most one job, then exit")
    worker.set_defaults(command=run_worker)
    scheduler = commands.add_parser(
        "scheduler", help="pull due partner feeds until SIGTERM (several may run at once)"
    )
    scheduler.add_argument("--once", action="store_true", help="one pass over the due schedules, then exit")
    scheduler.set_defaults(command=run_scheduler)


def stop_on_signals(on_repeat: Callable[[], None] | None = None) -> threading.Event:
    """An event set by SIGTERM or SIGINT: the current job finishes, no new one starts.

    A second signal calls `on_repeat` (the worker's `interrupt`: the job is released now
    rather than finished), for an operator or a supervisor that cannot wait.
    """
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set() and on_repeat is not None:
            logging.getLogger("partner_ingest").info("%s again: releasing the current job", name)
            on_repeat()
            return
        logging.getLogger("partner_ingest").info("stopping on %s", name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_worker(args: argparse.Namespace) -> int:
    """Run a worker process."""
    settings = Settings.from_env()
    configure_logging(settings)
    app = bootstrap.build(settings)
    try:
        worker = Worker(
            app.process_next_job,
            poll_seconds=settings.worker_poll_seconds,
            name=f"worker-{socket.gethostname()}-{os.getpid()}",
            purge=app.purge_expired,
            purge_seconds=settings.job_body_purge_seconds,
        )
        if args.once:
            worker.run_once()
            return 0
        worker.run(stop_on_signals(on_repeat=worker.interrupt))
        return 0
    finally:
        app.close()


def run_scheduler(args: argparse.Namespace) -> int:
    """Run a scheduler process."""
    settings = Settings.from_env()
    configure_logging(settings)
    app = bootstrap.build(settings)
    try:
        scheduler = Scheduler(app.pull_feeds, poll_seconds=settings.scheduler_poll_seconds)
        if args.once:
            scheduler.run_once()
            return 0
        scheduler.run(stop_on_signals())
        return 0
    finally:
        app.close()
