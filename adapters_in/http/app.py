"""The app factory: `create_app(application) -> Starlette`, the HTTP delivery of the use cases.

Routes by area (ingest.py: a partner's feeds and reads; jobs.py: a partner's
jobs; contract.py: the contract, examples, dry run and quickstart; admin.py:
partners, keys, audit; admin_jobs.py: jobs and circuit breakers;
admin_schedules.py: pull schedules; ops.py: health, readiness, metrics,
OpenAPI), one middleware (middleware.py) and one error mapping (errors.py). The app holds nothing global: two apps in
one process, or one mounted under a prefix in an embedding service's ASGI app,
work independently.

    from starlette.applications import Starlette
    from starlette.routing import Mount

    partner_app = create_app(bootstrap.build(Settings.from_env()))
    service = Starlette(routes=[Mount("/catalog", app=partner_app), ...])
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

from starlette.applications import Starlette
from starlette.middleware import Middleware

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.settings import networks

from . import admin, admin_imports, admin_jobs, admin_schedules, changes, contract, ingest, jobs, ops
from ._context import HttpContext
from .collectors import FetchHealthCollector, JobQueueCollector
from .errors import exception_handlers
from .lifespan import BackgroundService, lifespan_for
from .metrics import Metrics
from .middleware import RequestMiddleware
from .openapi import document

__all__ = ["create_app"]

_AREAS = (ingest, jobs, contract, changes, admin, admin_imports, admin_jobs, admin_schedules, ops)


def _version() -> str:
    try:
        return metadata.version("partner-catalog-ingest")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def create_app(
    app: Application,
    *,
    services: Sequence[BackgroundService] = (),
    metrics: Metrics | None = None,
) -> Starlette:
    """The Starlette app over `app`'s use cases.

    `services` are started with the app and stopped with it, in reverse order (see
    lifespan.py): `serve` passes the in-process worker and scheduler. Pass `metrics`
    to add collectors of your own before serving; the job queue and fetch-health
    collectors (collectors.py) are registered in it here, so give each app its own.
    """
    operations = {key: value for area in _AREAS for key, value in area.OPERATIONS.items()}
    metrics = metrics or Metrics()
    metrics.add_collector(JobQueueCollector(app))
    metrics.add_collector(FetchHealthCollector(app))
    ctx = HttpContext(
        app=app,
        metrics=metrics,
        trusted_proxies=networks(app.settings, "trusted_proxies"),
        openapi=document(operations, version=_version()),
    )
    web = Starlette(
        routes=[route for area in _AREAS for route in area.ROUTES],
        middleware=[Middleware(RequestMiddleware, ctx=ctx)],
        exception_handlers=exception_handlers,
        lifespan=lifespan_for(services),
    )
    # `/partner/ingest/` is a 404 like any unknown path, not a redirect a POST would not follow.
    web.router.redirect_slashes = False
    return web
