"""Embed the partner feed API in a Starlette service of your own, under `/catalog`.

Your service keeps its own routes, middleware and lifespan; the partner API is
one mounted ASGI app built by `create_app` from an `Application` you wire
(here from PARTNER_INGEST_* settings, the SQLite default unless you set a
database URL). Starlette does not run a mounted app's lifespan, so the
service's lifespan enters it (that starts any background services you passed)
and closes the application's connections at shutdown.

    python examples/embed_starlette.py        # http://127.0.0.1:8080/catalog/partner/help

tests/integration/test_examples.py serves it in-process and ingests a feed through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.settings import Settings

__all__ = ["PREFIX", "create_service", "main"]

PREFIX = "/catalog"


async def home(request: Request) -> JSONResponse:
    """A route of the host service, beside the mounted partner API."""
    return JSONResponse({"service": "shop", "partner_api": f"{PREFIX}/partner/help"})


def create_service(application: Application) -> Starlette:
    """The host service: its own routes, and the partner API mounted under PREFIX."""
    partner_api = create_app(application)

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
