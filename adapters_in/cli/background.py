"""Background process commands: `worker` (process jobs) and `scheduler` (pull due partner feeds).

Options and signals only: the loops are `adapters_in.background`'s, which embedders call too.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

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
    import logging  # here: the commands that install no handlers log nothing of their own
    import signal

    logger = logging.getLogger("partner_ingest")
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set() and on_repeat is not None:
            logger.info("%s again: releasing the current job", name)
            on_repeat()
            return
        logger.info("stopping on %s", name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_worker(args: argparse.Namespace) -> int:
    """Run a worker process: a first SIGTERM finishes the current job, a second releases it."""
    from partner_ingest.adapters_in import background, bootstrap
    from partner_ingest.adapters_in.logs import configure_logging
    from partner_ingest.adapters_in.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings)
    app = bootstrap.build(settings)
    try:
        interrupt = threading.Event()
        background.run_worker(
            app, stop_on_signals(on_repeat=interrupt.set), once=args.once, interrupt=interrupt
        )
        return 0
    finally:
        app.close()


def run_scheduler(args: argparse.Namespace) -> int:
    """Run a scheduler process until SIGTERM."""
    from partner_ingest.adapters_in import background, bootstrap
    from partner_ingest.adapters_in.logs import configure_logging
    from partner_ingest.adapters_in.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings)
    app = bootstrap.build(settings)
    try:
        background.run_scheduler(app, stop_on_signals(), once=args.once)
        return 0
    finally:
        app.close()
