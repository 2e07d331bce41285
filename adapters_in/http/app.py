"""The app factory: `create_app(application) -> Starlette`, the HTTP delivery of the use cases.

Routes by area (ingest.py: a partner's feeds and reads; diagnostics.py: every rejected item
of an import and a SKU's status; jobs.py: a partner's
jobs; contract.py: the contract, examples, dry run and quickstart; admin.py:
partners, keys, audit; admin_jobs.py: jobs and circuit breakers;
admin_schedules.py: pull schedules; ops.py: health, readiness, metrics,
OpenAPI), one middleware (middleware.py) and one error mapping (errors.py).
Each route accepts only the query parameters its operation declares in the
OpenAPI document (400 `unknown_parameter` otherwise; ADR 0029). The app holds
nothing global: two apps in one process, or one mounted under a prefix in an
embedding service's ASGI app, work independently.

    from starlette.applications import Starlette
    from starlette.routing import Mount

    partner_app = create_app(bootstrap.build(Settings.from_env()))
    service = Starlette(routes=[Mount("/catalog", app=partner_app), ...])
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.settings import networks

from . import (
    admin,
    admin_imports,
    admin_jobs,
    admin_schedules,
    changes,
    contract,
    diagnostics,
    ingest,
    jobs,
    ops,
    webhooks,
)
from ._context import HttpContext
from .body_threads import BodyThreads
from .cache_metrics import ProductCacheCollector
from .collectors import AuditChainCollector, DiagnosticsCollector, FetchHealthCollector, JobQueueCollector
from .direct_routes import DIRECT
from .errors import exception_handlers
from .lifespan import BackgroundService, lifespan_for
from .metrics import Metrics
from .middleware import RequestMiddleware
from .openapi import Operation, document, query_names
from .params import refuse_unknown_parameters
from .request_threads import RequestThreads

__all__ = ["create_app"]

# diagnostics first: its /partner/products/{sku}/status must match before ingest's /partner/products/{sku}.
_AREAS = (
    diagnostics,
    ingest,
    jobs,
    contract,
    changes,
    admin,
    admin_imports,
    admin_jobs,
    admin_schedules,
    webhooks,
    ops,
)


def _version() -> str:
    try:
        return metadata.version("partner-catalog-ingest")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


_FEED_OPERATIONS: Final = (("/partner/ingest", "post"), ("/partner/validate", "post"))


def _declare_feed_media(operations: dict[tuple[str, str], Operation], media_types: Sequence[str]) -> None:
    """Declare, on the operations taking a feed (an app's copy, like `describe_example_media`
    for the examples), every media type a registered format takes: a plugin's too."""
    for key in _FEED_OPERATIONS:
        if key not in operations:
            continue
        content = operations[key]["requestBody"]["content"]
        schema = next(iter(content.values()))["schema"]
        for media_type in media_types:
            content.setdefault(media_type, {"schema": schema})


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
    # The pages import this package's helpers, so they are imported once it is loaded.
    from partner_ingest.adapters_in.web import ROUTES as PAGE_ROUTES

    # A copy: what this app's plugins add (media types of feeds and examples) is this app's
    # document alone.
    formats = app.formats.all()
    operations = copy.deepcopy({key: value for area in _AREAS for key, value in area.OPERATIONS.items()})
    _declare_feed_media(operations, app.formats.media_types())
    routes = [route for area in _AREAS for route in area.ROUTES]
    _name_operations(routes, operations)
    contract.describe_example_media(operations, [f.media_types[0] for f in formats])
    metrics = metrics or Metrics()
    metrics.add_collector(JobQueueCollector(app))
    metrics.add_collector(FetchHealthCollector(app))
    metrics.add_collector(AuditChainCollector(app))
    metrics.add_collector(DiagnosticsCollector(app))
    metrics.add_collector(ProductCacheCollector(app))
    body_threads = BodyThreads(app.settings.body_threads)
    ctx = HttpContext(
        app=app,
        metrics=metrics,
        trusted_proxies=networks(app.settings, "trusted_proxies"),
        body_threads=body_threads,
        openapi=document(operations, version=_version(), format_names=sorted({f.name for f in formats})),
        request_threads=RequestThreads(),
    )
    web = Starlette(
        # The pages are not API operations: they read their own forms and queries.
        routes=[*(_declared_query_only(route, operations) for route in routes), *PAGE_ROUTES],
        exception_handlers=exception_handlers,
        # First, so stopped last: after the services, once no request is received any more.
        lifespan=lifespan_for([body_threads, ctx.request_threads, *services]),
    )
    # The feed route is served by the middleware itself (direct_routes.py), with this app's
    # routes and handlers, as its router would serve it.
    web.add_middleware(
        RequestMiddleware, ctx=ctx, router=web.router, direct=DIRECT, handlers=web.exception_handlers
    )
    # `/partner/ingest/` is a 404 like any unknown path, not a redirect a POST would not follow.
    web.router.redirect_slashes = False
    return web


def _name_operations(routes: Sequence[BaseRoute], operations: Mapping[tuple[str, str], Operation]) -> None:
    """Each operation's operationId is its route's name: unique, and what links refer to."""
    for route in routes:
        if isinstance(route, Route) and route.methods is not None:
            method = next(m for m in sorted(route.methods) if m != "HEAD")
            operations[(route.path, method.lower())]["operationId"] = route.name


def _declared_query_only(route: BaseRoute, operations: Mapping[tuple[str, str], Operation]) -> BaseRoute:
    """The route, refusing (400 unknown_parameter) any query parameter its operation does not
    declare: the document is the one list of what each route reads, so they cannot drift."""
    if not isinstance(route, Route) or route.methods is None:
        return route
    method = next(m for m in sorted(route.methods) if m != "HEAD")
    known = query_names(operations[(route.path, method.lower())])
    endpoint = route.endpoint

    async def checked(request: Request) -> Response:
        refuse_unknown_parameters(request, known)
        answer: Response = await endpoint(request)
        return answer

    return Route(route.path, checked, methods=sorted(route.methods), name=route.name)
