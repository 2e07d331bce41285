"""Signing in and out, and what every page checks first: a live session, and for a form its CSRF token.

The portal and the console are two areas with one session model (ADR 0038):

- the session cookie is HttpOnly, SameSite=Strict, scoped to its area's path, and
  Secure when served over TLS;
- a GET without a live session is sent to the area's sign-in page (303);
- a POST must carry the session's synchronizer token and, when the browser sends an
  Origin, come from this origin: otherwise it is refused (403) and changes nothing.
  A cross-site post carries no cookie at all (SameSite=Strict) and is refused the same way;
- the sign-in form itself carries a token bound to a short-lived pre-session cookie.
"""

from __future__ import annotations

import secrets
from typing import Final

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from partner_ingest.adapters_in.http._context import context, request_info
from partner_ingest.adapters_in.http.auth import retry_after
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.web_sessions import WebSession, csrf_matches
from partner_ingest.domain.use_cases.access_errors import ClientBlocked, Forbidden, KeyRateLimited
from partner_ingest.domain.use_cases.web_sessions import Admitted, SignedIn

from ._pages import is_tls, render, security_headers

__all__ = [
    "Area",
    "CONSOLE",
    "PORTAL",
    "Refused",
    "sign_in",
    "sign_in_form",
    "sign_out",
    "signed_in",
    "submitted",
]

_PRE_COOKIE: Final = "pi_signin"
MAX_FORM_FIELDS: Final = 100


@attrs.frozen
class Area:
    """The portal or the console: where it lives, which key signs in, its cookie."""

    name: str
    path: str
    role: KeyRole
    cookie: str
    title: str


PORTAL: Final = Area("portal", "/portal", KeyRole.PARTNER, "pi_portal", "Partner portal")
CONSOLE: Final = Area("console", "/console", KeyRole.ADMIN, "pi_console", "Admin console")


class Refused(Exception):
    """A request a page must not act on; `response` says why (403 page, 429 page, or a redirect)."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _url(request: Request, path: str) -> str:
    return f"{request.scope.get('root_path', '')}{path}"


def redirect(request: Request, path: str) -> RedirectResponse:
    """A 303 to `path` (under the app's mount point), with the page headers."""
    return RedirectResponse(_url(request, path), status_code=303, headers=security_headers(request))


def _forbidden(request: Request, area: Area, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"area": area.name, "title": "This form was not accepted", "message": message, "code": "csrf"},
        status=403,
    )


def _rate_limited(request: Request, area: Area, seconds: float) -> Response:
    wait = retry_after(seconds)
    return render(
        request,
        "error.html",
        {
            "area": area.name,
            "title": "Too many requests",
            "message": f"Please wait {wait} seconds before trying again.",
            "code": "rate_limited",
        },
        status=429,
        headers={"Retry-After": wait},
    )


async def _admit(request: Request, area: Area) -> Admitted | KeyRateLimited | None:
    app = context(request).app
    info = request_info(request)
    outcome = await run_in_threadpool(
        app.web_sessions.admit, request.cookies.get(area.cookie), info.client, role=area.role
    )
    if outcome is not None:
        info.principal = outcome.session.principal if isinstance(outcome, Admitted) else outcome.principal
        info.rate = outcome.rate
    return outcome


async def signed_in(request: Request, area: Area) -> WebSession:
    """The live session of a GET; Refused with a redirect to sign in (or a 429) otherwise."""
    outcome = await _admit(request, area)
    if outcome is None:
        raise Refused(redirect(request, f"{area.path}/sign-in"))
    if isinstance(outcome, KeyRateLimited):
        raise Refused(_rate_limited(request, area, outcome.rate.retry_after))
    return outcome.session


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return (
            True  # browsers send Origin on every POST; its absence is a non-browser client, held by the token
        )
    expected = f"{request.url.scheme}://{request.url.netloc}"
    forwarded = f"https://{request.url.netloc}"
    return origin in (expected, forwarded)


async def _form(request: Request, *, max_files: int = 0, max_part_size: int = 1024 * 1024) -> FormData:
    return await request.form(max_files=max_files, max_fields=MAX_FORM_FIELDS, max_part_size=max_part_size)


def _length_required(request: Request, area: Area) -> Response:
    message = "A form must be sent with its length (Content-Length)."
    values = {"area": area.name, "title": "Length required", "message": message, "code": "length_required"}
    return render(request, "error.html", values, status=411)


def _too_large(request: Request, area: Area, limit: int) -> Response:
    return render(
        request,
        "error.html",
        {
            "area": area.name,
            "title": "This upload is too large",
            "message": f"Forms and files up to {limit} bytes are accepted here; send larger feeds through the API as jobs.",
            "code": "body_too_large",
        },
        status=413,
    )


async def submitted(
    request: Request, area: Area, *, max_files: int = 0, max_part_size: int = 1024 * 1024
) -> tuple[WebSession, FormData]:
    """The session and form of a POST, after the origin and CSRF checks; Refused (403) otherwise.
    Nothing of the form is acted on before both checks pass. The declared length is checked
    before a byte is read (uploaded files are spooled to disk: an undeclared or oversized body
    is refused, 411 or 413), so no form fills the disk."""
    declared = request.headers.get("content-length", "")
    limit = max_part_size + 64 * 1024  # the file, and the form's other fields and boundaries
    if not declared.isdigit():
        raise Refused(_too_large(request, area, limit) if declared else _length_required(request, area))
    if int(declared) > limit:
        raise Refused(_too_large(request, area, limit))
    if not _same_origin(request):
        raise Refused(_forbidden(request, area, "This form was sent from another site."))
    outcome = await _admit(request, area)
    if outcome is None:
        raise Refused(
            _forbidden(request, area, "Your session has ended: sign in again, then send the form again.")
        )
    if isinstance(outcome, KeyRateLimited):
        raise Refused(_rate_limited(request, area, outcome.rate.retry_after))
    form = await _form(request, max_files=max_files, max_part_size=max_part_size)
    token = form.get("csrf_token")
    if not csrf_matches(outcome.session.csrf_token, token if isinstance(token, str) else None):
        await form.close()
        raise Refused(_forbidden(request, area, "This form has expired: reload the page and send it again."))
    return outcome.session, form


def _cookie_args(request: Request, area: Area) -> dict[str, object]:
    return {
        "path": _url(request, area.path),
        "httponly": True,
        "samesite": "strict",
        "secure": is_tls(request),
    }


def sign_in_form(request: Request, area: Area, *, message: str = "", status: int = 200) -> Response:
    """The sign-in page, with a fresh pre-session token (cookie and hidden field)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        {"area": area.name, "title": area.title, "csrf_token": token, "message": message},
        status=status,
    )
    response.set_cookie(_PRE_COOKIE, token, max_age=3600, **_cookie_args(request, area))  # type: ignore[arg-type]
    return response


async def sign_in(request: Request, area: Area) -> Response:
    """Exchange the posted key for a session (the access guard decides, counts and audits)."""
    if not _same_origin(request):
        return _forbidden(request, area, "This form was sent from another site.")
    form = await _form(request)
    token = form.get("csrf_token")
    expected = request.cookies.get(_PRE_COOKIE)
    if expected is None or not csrf_matches(expected, token if isinstance(token, str) else None):
        return sign_in_form(
            request, area, message="The sign-in form expired: please sign in again.", status=403
        )
    key = form.get("api_key")
    presented = key.strip() if isinstance(key, str) and key.strip() else None
    client = request_info(request).client
    outcome = await run_in_threadpool(
        context(request).app.web_sessions.sign_in, presented, client, role=area.role
    )
    if isinstance(outcome, ClientBlocked):
        return _rate_limited(request, area, outcome.retry_after)
    if isinstance(outcome, KeyRateLimited):
        return _rate_limited(request, area, outcome.rate.retry_after)
    if isinstance(outcome, Forbidden):
        other = "an admin" if area.role is KeyRole.PARTNER else "a partner"
        return sign_in_form(
            request, area, message=f"That is {other} key: it cannot sign in here.", status=403
        )
    if not isinstance(outcome, SignedIn):
        return sign_in_form(request, area, message="That key was not accepted.", status=401)
    response = redirect(request, area.path)
    response.set_cookie(area.cookie, outcome.token, **_cookie_args(request, area))  # type: ignore[arg-type]
    response.delete_cookie(_PRE_COOKIE, path=_url(request, area.path))
    return response


async def sign_out(request: Request, area: Area) -> Response:
    """End the session (server side: the cookie is worthless afterwards) and forget the cookie."""
    await submitted(request, area)
    token = request.cookies.get(area.cookie)
    if token:
        await run_in_threadpool(context(request).app.web_sessions.sign_out, token)
    response = redirect(request, f"{area.path}/sign-in")
    response.delete_cookie(area.cookie, path=_url(request, area.path), httponly=True, samesite="strict")
    return response
