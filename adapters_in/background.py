"""The background loops as a library: process jobs and pull due feeds, from any host process.

`partner-ingest worker` and `partner-ingest scheduler` only read their options
and call `run_worker` / `run_scheduler`; `serve` and an embedding service run
the same loops in threads beside their HTTP server (`background_services`, or
`background_worker` alone, handed to `create_app(app, services=...)`). Every
loop is configured from `app.settings` (poll intervals, purge interval,
shutdown grace), so each host runs them alike.

    stop = threading.Event()          # set it to finish the current job and return
    run_worker(app, stop)             # blocks; `once=True` processes one job at most
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where each loop is made: a worker process never loads the scheduler's pulls,
    # nor a scheduler the worker's ingest (ADR 0042).
    from .bootstrap import Application
    from .cache_follower import BackgroundCacheFollower
    from .scheduler import BackgroundScheduler, Scheduler
    from .worker import BackgroundWorker, Worker

__all__ = [
    "background_cache_follower",
    "background_scheduler",
    "background_services",
    "background_worker",
    "run_scheduler",
    "run_worker",
    "scheduler_for",
    "worker_for",
]


def worker_for(
    app: Application, *, name: str | None = None, interrupt: threading.Event | None = None
) -> Worker:
    """The job worker over `app`, as its settings describe it; named after host and process
    unless `name` says otherwise. `interrupt`: see `Worker`."""
    import socket  # here: a scheduler opens no socket of its own

    from .worker import Worker

    settings = app.settings
    return Worker(
        app.process_next_job,
        poll_seconds=settings.worker_poll_seconds,
        name=name or f"worker-{socket.gethostname()}-{os.getpid()}",
        purge=app.purge_retained,
        purge_seconds=settings.job_body_purge_seconds,
        interrupt=interrupt,
        deliver=app.deliver_webhooks,
    )


def scheduler_for(app: Application) -> Scheduler:
    """The scheduler over `app`, polling as its settings say."""
    from .scheduler import Scheduler

    return Scheduler(app.pull_feeds, poll_seconds=app.settings.scheduler_poll_seconds)


def run_worker(
    app: Application,
    stop: threading.Event,
    *,
    once: bool = False,
    interrupt: threading.Event | None = None,
    name: str | None = None,
) -> int:
    """Process jobs in this thread until `stop` is set (`once`: at most one job, then return);
    how many were processed. Setting `interrupt` stops the current job at its next read and
    releases it to the queue (a shutdown that cannot wait). Closing `app` is the caller's."""
    worker = worker_for(app, name=name, interrupt=interrupt)
    if once:
        worker.run_once()
        worker.deliver_due()
    else:
        worker.run(stop)
    return worker.processed


def run_scheduler(app: Application, stop: threading.Event, *, once: bool = False) -> int:
    """Pull due feeds in this thread until `stop` is set (`once`: one pass, then return);
    how many passes were made. Closing `app` is the caller's."""
    scheduler = scheduler_for(app)
    if once:
        scheduler.run_once()
    else:
        scheduler.run(stop)
    return scheduler.passes


def background_worker(app: Application) -> BackgroundWorker:
    """The worker in a thread of its own, started and stopped with an HTTP app
    (`create_app(app, services=[background_worker(app)])`); on stop, the current job
    finishes or is released after PARTNER_INGEST_SHUTDOWN_GRACE_SECONDS."""
    from .worker import BackgroundWorker

    return BackgroundWorker(worker_for(app), grace_seconds=app.settings.shutdown_grace_seconds)


def background_scheduler(app: Application) -> BackgroundScheduler:
    """The scheduler in a thread of its own, started and stopped with an HTTP app."""
    from .scheduler import BackgroundScheduler

    return BackgroundScheduler(scheduler_for(app))


def background_cache_follower(app: Application) -> BackgroundCacheFollower | None:
    """The product cache's change-feed follower in a thread of its own (ADR 0017); None when
    the cache is off. Without it running the cache is never read."""
    if app.product_cache is None:
        return None
    from .cache_follower import BackgroundCacheFollower, CacheFollower

    return BackgroundCacheFollower(CacheFollower(app.product_cache))


def background_services(
    app: Application,
) -> list[BackgroundWorker | BackgroundScheduler | BackgroundCacheFollower]:
    """What runs beside the HTTP server in `serve`'s process, started in this order.

    The product cache's follower (when PARTNER_INGEST_PRODUCT_CACHE is on), the worker
    (when `settings.runs_worker`: PARTNER_INGEST_IN_PROCESS_WORKER, on by default with
    SQLite) and the scheduler (`settings.runs_scheduler`). The scheduler submits jobs the
    worker processes, so it starts last and stops first.
    """
    services: list[BackgroundWorker | BackgroundScheduler | BackgroundCacheFollower] = []
    follower = background_cache_follower(app)
    if follower is not None:
        services.append(follower)
    if app.settings.runs_worker:
        services.append(background_worker(app))
    if app.settings.runs_scheduler:
        services.append(background_scheduler(app))
    return services
