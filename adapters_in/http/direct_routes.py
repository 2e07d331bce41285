"""The feed route served straight from the request middleware, without Starlette's router stack.

Under Starlette a request passes its exception middleware (a `Request` and a wrapper), the
router (every route's pattern tried in order until one matches) and the route's own
request/response wrapper (a second `Request` and a second exception wrapper): about a tenth
of the event loop's time for a small feed (ADR 0045). For the routes named here the middleware
does what those layers do, once: it finds the route by its exact path and method, sets the
same scope keys (`router`, `route`, `endpoint`, `path_params`, the exception handlers), calls
the endpoint with one `Request`, and answers an exception with the same handler the
exception middleware would have chosen. What is not one of these routes (another path,
another method, a 405) goes through Starlette as before.

Exact by construction: a path is served here only if, among the app's routes, the first that
matches it fully (method included) is its own, with no path parameter; the handlers are the
app's own (`Starlette(exception_handlers=...)`), read when the app builds its middleware, as
Starlette reads them. An exception no handler takes (the app's catch-all `Exception` handler
is Starlette's server-error middleware's, outside this one) goes up to the request middleware,
which answers the 500, as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router
from starlette.types import Message, Receive, Scope, Send

__all__ = ["DIRECT", "DirectRoutes"]

DIRECT: Final = (("POST", "/partner/ingest"),)
"""The routes served directly: the one a partner calls for every feed."""

_Handler = Any  # Starlette's ExceptionHandler: (Request, Exception) -> Response, awaitable


class DirectRoutes:
    """The routes of `router` named by (method, path) in `wanted`, each served as the router would
    (no router: none)."""

    def __init__(
        self, router: Router | None, wanted: Iterable[tuple[str, str]], handlers: Mapping[Any, _Handler]
    ) -> None:
        self._router = router
        self._handlers: dict[type[BaseException], _Handler] = {
            key: value for key, value in handlers.items() if isinstance(key, type) and key is not Exception
        }
        # A handler by status code (other than 500, the server-error middleware's) would be
        # looked up before the class's for an HTTPException: leave such an app to Starlette.
        by_status = any(isinstance(key, int) and key != 500 for key in handlers)
        self._routes: dict[tuple[str, str], Route] = {}
        awaited = all(inspect.iscoroutinefunction(handler) for handler in self._handlers.values())
        if router is None or by_status or not awaited or HTTPException not in self._handlers:
            return
        for method, path in wanted:
            route = _first_full_match(router, method, path)
            if route is not None:
                self._routes[(method, path)] = route

    def find(self, scope: Scope) -> Route | None:
        """The route this request is served by here, or None: through Starlette."""
        if not self._routes:
            return None
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] == "/":
            path = path[len(root_path) :]  # as Starlette's router reads a mounted app's paths
        return self._routes.get((scope["method"], path))

    async def serve(
        self,
        route: Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        started: Callable[[], bool] | None = None,
    ) -> None:
        """What the exception middleware, the router and the route's wrapper do, in one step.

        `started`: whether `send` has been given the answer's start, when the caller knows
        (the request middleware does); otherwise `send` is wrapped to tell."""
        scope.setdefault("router", self._router)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        scope["starlette.exception_handlers"] = (self._handlers, {})
        request = Request(scope, receive, send)
        if started is None:
            began = False

            async def sender(message: Message) -> None:
                nonlocal began
                if message["type"] == "http.response.start":
                    began = True
                await send(message)

            send, started = sender, lambda: began

        try:
            response: Response = await route.endpoint(request)
            await response(scope, receive, send)
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                raise
            if started():
                raise RuntimeError("Caught handled exception, but response already started.") from error
            answer: Response | None = await handler(request, error)
            if answer is not None:
                await answer(scope, receive, send)
            error.__traceback__ = None  # a reused exception instance would keep every traceback

    def _handler_for(self, error: Exception) -> _Handler | None:
        for cls in type(error).__mro__:
            found = self._handlers.get(cls)
            if found is not None:
                return found
        return None


def _first_full_match(router: Router, method: str, path: str) -> Route | None:
    """The route the router would give a `method` request for `path`, when it has no path parameter."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": ""}
    for candidate in router.routes:
        match, child = candidate.matches(scope)
        if match is Match.FULL:
            if (
                not isinstance(candidate, Route)
                or child.get("path_params")
                or not inspect.iscoroutinefunction(candidate.endpoint)
            ):
                return None
            return candidate
    return None
