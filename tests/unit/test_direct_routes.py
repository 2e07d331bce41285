"""The feed route served by the request middleware (ADR 0045): only where the router would
choose that very route, with the app's own handlers; everything else is left to Starlette."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from partner_ingest.adapters_in.http.direct_routes import DIRECT, DirectRoutes


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def _sync(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("handled", status_code=418)


HANDLERS = {HTTPException: _handler}
INGEST = Route("/partner/ingest", _ok, methods=["POST"])


def scope(method: str, path: str, root_path: str = "") -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path}


def test_the_feed_route_is_found_by_method_and_path_under_any_mount_prefix() -> None:
    direct = DirectRoutes(Router([Route("/partner/imports", _ok), INGEST]), DIRECT, HANDLERS)
    assert direct.find(scope("POST", "/partner/ingest")) is INGEST
    assert direct.find(scope("POST", "/catalog/partner/ingest", "/catalog")) is INGEST
    # The 405 with its Allow header, a trailing slash's 404, other routes: Starlette's.
    assert direct.find(scope("GET", "/partner/ingest")) is None
    assert direct.find(scope("POST", "/partner/ingest/")) is None
    assert direct.find(scope("POST", "/catalogue/partner/ingest", "/catalog")) is None


@pytest.mark.parametrize(
    "routes",
    [
        [Route("/partner/{anything}", _ok, methods=["POST"]), INGEST],  # an earlier route takes it
        [Route("/partner/ingest", _sync, methods=["POST"])],  # Starlette runs it in a thread
        [Route("/elsewhere", _ok)],  # no such route
    ],
)
def test_a_path_the_router_would_serve_otherwise_is_left_to_it(routes: list[Route]) -> None:
    assert DirectRoutes(Router(routes), DIRECT, HANDLERS).find(scope("POST", "/partner/ingest")) is None


@pytest.mark.parametrize(
    "handlers",
    [{}, {HTTPException: _handler, 404: _handler}, {HTTPException: lambda request, exc: None}],
    ids=["no HTTPException handler", "a handler by status", "a sync handler"],
)
def test_handlers_the_direct_way_would_not_apply_alike_leave_every_route_to_starlette(
    handlers: dict[object, object],
) -> None:
    assert DirectRoutes(Router([INGEST]), DIRECT, handlers).find(scope("POST", "/partner/ingest")) is None
    assert DirectRoutes(None, DIRECT, HANDLERS).find(scope("POST", "/partner/ingest")) is None
