"""Operations routes: liveness, readiness, Prometheus metrics and the OpenAPI document.

- `/healthz` answers while the process serves requests at all (restart it otherwise);
- `/readyz` answers 200 only when the database is reachable, its schema is the
  one this release needs and, where one is set, Redis answers (take the instance
  out of the load balancer otherwise);
- `/metrics` is the Prometheus text of this app's registry;
- `/openapi.json` describes every route, with this app's address as its server.

None needs a key: put them behind the network, not behind credentials, since a
load balancer or a scraper should not hold a partner's or an admin's key.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._context import base_url, context
from .openapi import Operation, op
from .views import JsonResponse

__all__ = ["OPERATIONS", "ROUTES"]


async def healthz(request: Request) -> Response:
    """The process is up."""
    return JsonResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database is reachable and migrated (and Redis answers, if set): 200, else 503 saying what is wrong."""
    readiness = await run_in_threadpool(context(request).app.ready)
    if readiness.ready:
        return JsonResponse({"ready": True, "checks": readiness.checks})
    # Still the {error, details} shape: a 503 is an error answer like any other.
    return JsonResponse(
        {"error": "not_ready", "details": {"message": "not ready to serve", **readiness.checks}},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def metrics(request: Request) -> Response:
    """Prometheus exposition text."""
    # In a thread: the job queue and fetch-health collectors read the database.
    text, content_type = await run_in_threadpool(context(request).metrics.render)
    return Response(text, media_type=content_type)


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document, with the address this request reached as its server."""
    document: dict[str, Any] = {**context(request).openapi, "servers": [{"url": base_url(request)}]}
    # Rendered in a thread: tens of KB of JSON, milliseconds the event loop would lose per request.
    return await run_in_threadpool(JsonResponse, document)


ROUTES: Final[list[BaseRoute]] = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
    Route("/metrics", metrics, methods=["GET"], name="metrics"),
    Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
]

OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("/healthz", "get"): op("Liveness", tag="operations", ok=(200, "the process is up", "Health")),
    ("/readyz", "get"): op(
        "Readiness",
        tag="operations",
        description=(
            "503 `not_ready` when the database is unreachable or its schema is not current, "
            "or a configured Redis does not answer."
        ),
        ok=(200, "ready", "Readiness"),
        errors=(503,),
    ),
    ("/metrics", "get"): op("Prometheus metrics", tag="operations", ok=(200, "exposition text", None)),
    ("/openapi.json", "get"): op(
        "This document", tag="operations", ok=(200, "OpenAPI 3.1", {"type": "object"})
    ),
}
OPERATIONS[("/metrics", "get")]["responses"]["200"]["content"] = {
    "text/plain": {"schema": {"type": "string"}}
}
