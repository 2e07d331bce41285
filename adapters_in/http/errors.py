"""Every error becomes `{"error": <code>, "details": {...}}` here, and only here (U1, ADR 0013).

- The code is stable and machine-readable: partners branch on it. Every error
  brings its own (`IngestError.code`) and its `details`; the status comes from
  the base by meaning it derives from (domain/model/errors.py), the only classes
  mapped here. The HTTP adapter's own errors are the `ApiError` classes below,
  which derive from those bases too; Starlette's 404 and 405 get `not_found` and
  `method_not_allowed`.
- `details.message` is for people; `details.request_id` matches the
  `X-Request-ID` header and the server's log line.
- A 500 says nothing about its cause: the traceback goes to the log, under
  the request id, and never into the response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route

from partner_ingest.domain.model.errors import (
    ConflictError,
    DeniedError,
    FeedRejectedError,
    IngestError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    UnreadableError,
    UnsupportedError,
)
from partner_ingest.domain.model.report import IngestReport

from ._context import INFO_KEY, RequestInfo
from .auth import retry_after
from .views import JsonResponse

__all__ = [
    "ApiError",
    "BadRequest",
    "BodyTooLarge",
    "FeedTooLargeForSync",
    "InvalidRequest",
    "UnsupportedMediaType",
    "error_response",
    "exception_handlers",
    "internal_error_response",
    "rejected_feed_response",
]

log: Final = logging.getLogger("partner_ingest.http")


class ApiError:
    """What the errors of the HTTP request itself (headers, body, size, before any use case
    runs) have in common: a code and details given where raised.

    A mixin: each error also derives from the base that says what it means, which alone
    decides its status.
    """

    code: str

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)  # type: ignore[call-arg]  # the base by meaning is next in the MRO
        if code is not None:
            self.code = code
        self._details = dict(details or {})
        self.headers = dict(headers or {})

    @property
    def details(self) -> dict[str, Any]:
        """The details given where it was raised."""
        return self._details


class BadRequest(ApiError, UnreadableError):
    """A header, a query parameter or a JSON body that cannot be read (`invalid_header`, ...)."""

    code = "bad_request"


class InvalidRequest(ApiError, InvalidError):
    """A well-formed JSON body whose fields are wrong; `details.problems` maps field -> why."""

    code = "invalid_request"


class BodyTooLarge(ApiError, TooLargeError):
    """The body (after decompression) is larger than this endpoint accepts."""

    code = "body_too_large"


class FeedTooLargeForSync(ApiError, TooLargeError):
    """A feed too large to process while the partner waits: send it as a job instead."""

    code = "feed_too_large_for_sync"


class UnsupportedMediaType(ApiError, UnsupportedError):
    """A Content-Type or Content-Encoding this endpoint does not read; details list the supported ones."""

    code = "unsupported_media_type"


# Every error derives from one of the domain's bases by meaning; only they are mapped here
# (the most specific class in an error's MRO wins).
_STATUS: Final[Mapping[type[IngestError], int]] = {
    UnreadableError: 400,
    UnauthenticatedError: 401,
    DeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    TooLargeError: 413,
    UnsupportedError: 415,
    InvalidError: 422,
    RateLimitedError: 429,
    UnavailableError: 503,
}
# What a caller reads for each UnavailableError of the outbound adapters (which this layer
# may not import): their codes pick the message, since the operator's detail is logged only.
_UNAVAILABLE: Final = {
    "store_busy": "the database is busy; retry shortly",
    "store_unreachable": "the database cannot be reached; retry shortly",
    "schema_too_new": "not ready",
    "rate_limiter_unavailable": "the rate-limit store cannot be reached; retry shortly",
    "store_full": "the database has no space left; retry later",
}
_HTTP_CODES: Final = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one shape of every error answer."""
    info = request.scope.get(INFO_KEY)
    body_details: dict[str, Any] = {"message": message, **(details or {})}
    if isinstance(info, RequestInfo):
        info.error = code
        body_details["request_id"] = info.request_id
    return JsonResponse(
        {"error": code, "details": body_details}, status_code=status, headers=dict(headers or {})
    )


def rejected_feed_response(request: Request, report: IngestReport, headers: Mapping[str, str]) -> Response:
    """A feed of which nothing was (or, in a dry run, would be) accepted: 422 with its report,
    plus the `error` and `details` every error answer has, so a client that branches on
    `error` needs no special case for feeds.

    The report's own fields stay at the top level, exactly as in a 200 answer.
    """
    counts = report.counts
    if report.feed_error is not None:
        message = f"the feed was rejected: {report.feed_error.message}"
    else:
        message = f"the feed was rejected: none of its {counts.received} items is valid (see errors)"
    feed_error = None if report.feed_error is None else str(report.feed_error.code)
    details: dict[str, Any] = {"message": message, "feed_error": feed_error, "rejected": counts.rejected}
    info = request.scope.get(INFO_KEY)
    if isinstance(info, RequestInfo):
        info.error = FeedRejectedError.code
        details["request_id"] = info.request_id
    body = {**report.to_json(), "error": FeedRejectedError.code, "details": details}
    return JsonResponse(body, status_code=422, headers=dict(headers))


def internal_error_response(request_id: str) -> Response:
    """The 500 answer: a code, a request id to quote, and nothing about the cause."""
    details = {"message": "internal error: quote the request id when reporting it", "request_id": request_id}
    return JsonResponse({"error": "internal_error", "details": details}, status_code=500)


def _status_of(error: IngestError) -> int | None:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return None


def _headers_of(error: IngestError) -> tuple[dict[str, Any], dict[str, str]]:
    """What the HTTP protocol adds to an error's own details, by its base."""
    details = dict(error.details)
    headers = dict(error.headers) if isinstance(error, ApiError) else {}
    if isinstance(error, UnauthenticatedError):
        headers["WWW-Authenticate"] = 'Bearer realm="partner-ingest"'
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = retry_after(error.retry_after)
        details["retry_after"] = int(headers["Retry-After"])
    return details, headers


async def _ingest_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IngestError)
    status = _status_of(exc)
    if status == 503:
        # The operator's reason (which database, which pool) is logged; the caller learns to retry.
        log.warning("answering 503 %s: %s", exc.code, exc)
        message = _UNAVAILABLE.get(exc.code, "a service this depends on is unavailable; retry shortly")
        return error_response(request, 503, exc.code, message, headers={"Retry-After": "1"})
    if status is None:
        # An error raised on purpose that derives from no base is a bug of its class.
        log.error("unmapped %s", type(exc).__name__, exc_info=exc)
        return error_response(
            request, 500, "internal_error", "internal error: quote the request id when reporting it"
        )
    details, headers = _headers_of(exc)
    return error_response(request, status, exc.code, str(exc), details, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers.

    Starlette's 405 names only the methods of the first route whose path matched, and
    this app declares one Route per method (`GET /admin/keys` and `POST /admin/keys`
    are two), so its Allow header would leave the others out.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    details: dict[str, Any] = {}
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        details["path"] = request.url.path
    if exc.status_code == 405:
        allowed = _allowed_methods(request) or [
            m.strip() for m in headers.get("Allow", "").split(",") if m.strip()
        ]
        headers["Allow"] = ", ".join(allowed)
        details["allowed"] = allowed
    return error_response(request, exc.status_code, code, str(exc.detail), details, headers)


async def _disconnected(request: Request, exc: Exception) -> Response:
    # Nobody will read this answer; it exists so the access log records the code.
    return error_response(request, 400, "client_disconnected", "the client closed the connection")


async def _unhandled(request: Request, exc: Exception) -> Response:
    # Reached only when the request middleware itself fails; it handles every other 500.
    info = request.scope.get(INFO_KEY)
    request_id = info.request_id if isinstance(info, RequestInfo) else "unknown"
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return internal_error_response(request_id)


exception_handlers: Final = {
    IngestError: _ingest_error,
    HTTPException: _http_error,
    ClientDisconnect: _disconnected,
    Exception: _unhandled,
}
"""For `Starlette(exception_handlers=...)`."""
