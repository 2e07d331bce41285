"""Embed the partner feed API in a Starlette service of your own, under `/catalog`.

Your service keeps its own routes, middleware and lifespan; the partner API is
one mounted ASGI app built by `create_app` from an `Application` that
`bootstrap.build()` wires (here from PARTNER_INGEST_* settings, the SQLite
default unless you set a database URL; pass `store=`, `clock=`, ... to replace
one part). Feeds sent as jobs (`Prefer: respond-async`) are processed by the
job worker, which runs in a thread of this process: `background_worker(app)`
is handed to `create_app` as a background service. Starlette does not run a
mounted app's lifespan, so the service's lifespan enters it (that starts the
worker, and at shutdown lets its current job finish) and closes the
application's connections at shutdown. With several processes on PostgreSQL,
leave the worker out here and run `partner-ingest worker` (or
`background.run_worker(app, stop)`) on its own.

    python examples/embed_starlette.py        # http://127.0.0.1:8080/catalog/partner/help

tests/integration/test_examples.py serves it in-process, ingests a feed through it and
sends one as a job that its worker processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.background import background_worker
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.settings import Settings

__all__ = ["PREFIX", "create_service", "main"]

PREFIX = "/catalog"


async def home(request: Request) -> JSONResponse:
    """A route of the host service, beside the mounted partner API."""
    return JSONResponse({"service": "shop", "partner_api": f"{PREFIX}/partner/help"})


def create_service(application: Application) -> Starlette:
    """The host service: its own routes, the partner API mounted under PREFIX, and the
    job worker running for as long as the service does."""
    partner_api = create_app(application, services=[background_worker(application)])

    @contextlib.asynccontextmanager
    async def lifespan(service: Starlette) -> AsyncIterator[None]:
        try:
            async with partner_api.router.lifespan_context(partner_api):
                yield
        finally:
            application.close()

    return Starlette(routes=[Route("/", home), Mount(PREFIX, app=partner_api)], lifespan=lifespan)


def main() -> None:
    """Serve the host service with uvicorn on 127.0.0.1:8080."""
    import uvicorn

    uvicorn.run(create_service(bootstrap.build(Settings.from_env())), host="127.0.0.1", port=8080)


if __name__ == "__main__":
    main()
