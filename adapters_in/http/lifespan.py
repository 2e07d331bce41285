"""Background services started and stopped with the HTTP app (the embedded default).

`serve` runs the worker and the scheduler in-process: it hands them to
`create_app(app, services=[...])`, and the lifespan starts them in order once
the server is up and stops them in reverse order when it shuts down (SIGTERM,
SIGINT), before the server process closes the application.

A service is anything with `start()` (returns at once, work continues in its own
thread) and `stop()` (asks it to finish and waits for it), such as
`worker.BackgroundWorker`. Both are called in a worker thread, never on the
event loop, so a `stop()` that joins a thread does not freeze the server.

An embedding service that mounts the app in its own ASGI app does not get this
lifespan run for it (Starlette does not run a mounted app's lifespan); it can
enter `partner_app.router.lifespan_context(partner_app)` from its own lifespan.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

__all__ = ["BackgroundService", "lifespan_for"]

log: Final = logging.getLogger("partner_ingest.http")


class BackgroundService(Protocol):
    """Something that runs beside the HTTP server for as long as it does."""

    def start(self) -> None:
        """Begin working in the background; return at once."""

    def stop(self) -> None:
        """Finish (let current work complete) and return when stopped."""


def _name(service: BackgroundService) -> str:
    return str(getattr(service, "name", type(service).__name__))


def lifespan_for(
    services: Sequence[BackgroundService],
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """The lifespan that starts `services` in order and stops them in reverse order."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started: list[BackgroundService] = []
        try:
            for service in services:
                await run_in_threadpool(service.start)
                started.append(service)
                log.info("background service started", extra={"service": _name(service)})
            yield
        finally:
            for service in reversed(started):
                try:
                    await run_in_threadpool(service.stop)
                    log.info("background service stopped", extra={"service": _name(service)})
                except Exception:  # one failing stop must not keep the others running
                    log.exception("background service failed to stop", extra={"service": _name(service)})

    return lifespan
