"""The request middleware: request id, client address, response headers, metrics, the access log.

A plain ASGI middleware (not BaseHTTPMiddleware, which buffers and breaks
streaming bodies). For every HTTP request it

- takes the caller's `X-Request-ID` when it is a short safe token, else makes one,
  and sends it back on every answer;
- resolves the client address once (auth.client_address) for the guard and the log;
- adds the key's RateLimit fields to any answer the guard has a quota decision for;
- turns an unhandled exception into the 500 of errors.py, logging the traceback
  under the request id (the answer carries nothing of it);
- counts the request and writes one access line;
- serves the feed route itself, without Starlette's router stack (direct_routes.py).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._context import CONTEXT_KEY, INFO_KEY, HttpContext, RequestInfo
from .auth import client_address, rate_limit_headers, rate_limit_values
from .direct_routes import DirectRoutes
from .errors import internal_error_response
from .logging import log_request

__all__ = ["RequestMiddleware"]

log: Final = logging.getLogger("partner_ingest.http")
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1")).strip()
            # Taken only when it cannot forge a log line or smuggle a header.
            if _SAFE_ID.fullmatch(text):
                return text
    return _new_request_id()


_IDS_AT_ONCE: Final = 256
_IDS: Final[deque[str]] = deque()


def _new_request_id() -> str:
    """32 random hex digits (as random as uuid4().hex), from the system's random bytes.

    Taken 256 at a time: `os.urandom` is a system call that lets the GIL go, and on a busy
    server the loop then waits for another thread to hand it back, once a request. A deque's
    `popleft` is atomic, so threads never share an id; a forked child starts with none.
    """
    try:
        return _IDS.popleft()
    except IndexError:
        ids = os.urandom(16 * _IDS_AT_ONCE).hex()
        _IDS.extend(ids[i : i + 32] for i in range(32, len(ids), 32))
        return ids[:32]


os.register_at_fork(after_in_child=_IDS.clear)


_OURS: Final = frozenset({b"x-request-id", b"ratelimit", b"ratelimit-policy"})


def _add_headers(message: Message, info: RequestInfo) -> None:
    """X-Request-ID, Cache-Control: no-store unless the answer has its own, the RateLimit fields.

    Appended to the raw list as `MutableHeaders` would append them (lower-case names, in this
    order); only an answer already carrying one of them goes through `MutableHeaders`, which
    replaces it. `MutableHeaders` scans the list for each of its four writes.
    """
    raw = list(message.get("headers", ()))
    names = {name for name, _ in raw}
    if not names.isdisjoint(_OURS):
        headers = MutableHeaders(raw=raw)
        headers["X-Request-ID"] = info.request_id
        if "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
        if info.rate is not None:
            headers.update(rate_limit_headers(info.rate))
        message["headers"] = headers.raw
        return
    raw.append((b"x-request-id", info.request_id.encode("latin-1")))
    if b"cache-control" not in names:
        raw.append(_NO_STORE)
    if info.rate is not None:
        policy, now = rate_limit_values(info.rate)
        raw.append((b"ratelimit-policy", policy.encode("latin-1")))
        raw.append((b"ratelimit", now.encode("latin-1")))
    message["headers"] = raw


_NO_STORE: Final = (b"cache-control", b"no-store")


class RequestMiddleware:
    """Wraps the router of one app; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        ctx: HttpContext,
        *,
        router: Router | None = None,
        direct: Iterable[tuple[str, str]] = (),
        handlers: Mapping[Any, Any] | None = None,
    ) -> None:
        """`direct`: the (method, path) of the routes of `router` served here (direct_routes.py),
        with the app's exception `handlers`; the app builds its middleware on its first request,
        so they are read as Starlette reads its own."""
        self.app = app
        self.ctx = ctx
        self.direct = DirectRoutes(router, direct, handlers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = RequestInfo(
            request_id=_request_id(scope), client=client_address(scope, self.ctx.trusted_proxies)
        )
        scope[CONTEXT_KEY] = self.ctx
        scope[INFO_KEY] = info
        outer_route = scope.get("route")
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _add_headers(message, info)
            await send(message)

        direct = self.direct.find(scope)
        try:
            if direct is not None:
                await self.direct.serve(
                    direct, scope, receive, send_with_headers, started=lambda: status != 0
                )
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error", extra={"request_id": info.request_id})
            if status:
                raise  # the answer has begun; nothing better can be sent now
            info.error = "internal_error"
            await internal_error_response(info.request_id)(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, Route) and route is not outer_route else "unmatched"
            seconds = time.perf_counter() - started
            method = scope["method"]
            # 499: the client went away before any answer (nginx's code for it).
            self.ctx.metrics.observe_request(template, method, status or 499, seconds)
            log_request(info, method=method, route=template, status=status or 499, seconds=seconds)
