"""Background process commands: `worker` (process jobs) and `scheduler` (pull due partner feeds)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from typing import Any

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.scheduler import Scheduler
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_in.worker import Worker

__all__ = ["register", "stop_on_signals"]


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the background commands."""
    worker = commands.add_parser(
        "worker", help="process submitted jobs until SIGTERM (several may run at once)"
    )
    worker.add_argument("--once", action="store_true", help="process at most one job, then exit")
    worker.set_defaults(command=run_worker)
    scheduler = commands.add_parser(
        "scheduler", help="pull due partner feeds until SIGTERM (several may run at once)"
    )
    scheduler.add_argument("--once", action="store_true", help="one pass over the due schedules, then exit")
    scheduler.set_defaults(command=run_scheduler)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the current job finishes, no new one starts."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        logging.getLogger("partner_ingest").info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_worker(args: argparse.Namespace) -> int:
    """Run a worker process."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = bootstrap.build(settings)
    try:
        worker = Worker(
            app.process_next_job,
            poll_seconds=settings.worker_poll_seconds,
            name=f"worker-{socket.gethostname()}-{os.getpid()}",
        )
        if args.once:
            worker.run_once()
            return 0
        worker.run(stop_on_signals())
        return 0
    finally:
        app.close()


def run_scheduler(args: argparse.Namespace) -> int:
    """Run a scheduler process."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
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
