"""Rendering a page: the template environment, the security headers every page carries, errors as pages.

The headers (ADR 0038): a Content-Security-Policy that allows scripts and styles
from this origin only (no inline script anywhere; /docs alone allows the inline
styles Swagger UI sets), `frame-ancestors 'none'`, a same-origin Referrer-Policy,
nosniff, and HSTS when the request came over TLS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from partner_ingest.adapters_in.http._context import context
from partner_ingest.domain.model.errors import (
    ConflictError,
    DeniedError,
    IngestError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    TooLargeError,
    UnavailableError,
)

if TYPE_CHECKING:
    import jinja2

__all__ = ["CSP", "DOCS_CSP", "Handler", "error_page", "is_tls", "page", "render", "security_headers"]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_CSP: Final = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
"""Swagger UI sets style attributes from its script; its script still comes from this origin only."""


@cache
def _environment() -> jinja2.Environment:
    """The pages' templates, loaded when the first page is rendered: jinja2's import and
    environment are among the largest parts of a server's start, for pages a client of the
    API alone never asks for (ADR 0042)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("partner_ingest.adapters_in.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


Handler = Callable[[Request], Awaitable[Response]]


def is_tls(request: Request) -> bool:
    """Did the browser reach us over TLS (directly, or through a trusted proxy that says so)?"""
    if request.url.scheme == "https":
        return True
    ctx = context(request)
    peer = request.client.host if request.client else ""
    import ipaddress

    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    trusted = any(address.version == net.version and address in net for net in ctx.trusted_proxies)
    return trusted and request.headers.get("x-forwarded-proto", "").lower() == "https"


def security_headers(request: Request, *, csp: str = CSP) -> dict[str, str]:
    """The headers every page and page redirect carries."""
    headers = {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
    if is_tls(request):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    status: int = 200,
    csp: str = CSP,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """`template` rendered with `values` (plus the request), with the security headers."""
    body = (
        _environment()
        .get_template(template)
        .render({"request": request, "root": request.scope.get("root_path", ""), **values})
    )
    return HTMLResponse(
        body, status_code=status, headers={**security_headers(request, csp=csp), **(headers or {})}
    )


_STATUS: Final[tuple[tuple[type[IngestError], int], ...]] = (
    (NotFoundError, 404),
    (RateLimitedError, 429),
    (DeniedError, 403),
    (TooLargeError, 413),
    (ConflictError, 409),
    (UnavailableError, 503),
    (InvalidError, 400),
)


def error_page(request: Request, error: IngestError, *, area: str) -> HTMLResponse:
    """A use case's refusal as a page: its one-line message and the status its API twin answers."""
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    return render(
        request,
        "error.html",
        {
            "area": area,
            "title": "Something needs attention",
            "message": str(error),
            "code": getattr(error, "code", ""),
        },
        status=status,
    )


def page(area: str) -> Callable[[Handler], Handler]:
    """Turn the use cases' errors raised by a page handler into pages of `area`."""

    def wrap(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except IngestError as error:
                return error_page(request, error, area=area)

        wrapped.__name__ = handler.__name__
        wrapped.__doc__ = handler.__doc__
        return wrapped

    return wrap
