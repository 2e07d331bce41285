"""What every endpoint reaches through the request: the wired application and this request's facts.

The middleware puts both into the ASGI scope, so endpoints stay plain module-level
functions, and the app works the same when an embedding service mounts it under
a prefix of its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final

import attrs
from starlette.requests import HTTPConnection

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model.api_keys import Principal
from partner_ingest.domain.model.partner import Partner
from partner_ingest.ports.rate_limit import RateDecision

from .body_threads import BodyThreads
from .metrics import Metrics
from .request_threads import RequestThreads
from .writer_calls import WriterCalls

__all__ = ["HttpContext", "RequestInfo", "base_url", "context", "request_header", "request_info"]

CONTEXT_KEY: Final = "partner_ingest.context"
INFO_KEY: Final = "partner_ingest.request"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen
class HttpContext:
    """Shared by every request of one `create_app` app."""

    app: Application
    metrics: Metrics
    trusted_proxies: tuple[Network, ...]
    body_threads: BodyThreads
    """The pool that receives request bodies (body.py): PARTNER_INGEST_BODY_THREADS threads."""
    openapi: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """The OpenAPI document of this app's routes."""
    request_threads: RequestThreads = attrs.field(factory=RequestThreads, repr=False)
    """Where a request's key check and a feed's ingest run (request_threads.py)."""
    writer_calls: WriterCalls = attrs.field(factory=WriterCalls, repr=False)
    """How a feed's ingest runs in the store's writer, when it has one (writer_calls.py)."""


@attrs.define
class RequestInfo:
    """Facts about one request, filled in as it is handled; the access log line reads them."""

    request_id: str
    client: str
    principal: Principal | None = None
    partner: Partner | None = None
    """The principal's partner as the access check read it (a feed's ingest reads it no more)."""
    rate: RateDecision | None = None
    """The key's quota decision: the middleware turns it into the RateLimit fields."""
    error: str | None = None
    """The machine code of the error answered, if any."""
    fields: dict[str, str | int | None] = attrs.field(factory=dict)
    """Endpoint-specific log fields (feed id, feed status)."""


def context(conn: HTTPConnection) -> HttpContext:
    """The app's context; only requests that passed through create_app's middleware have one."""
    found = conn.scope.get(CONTEXT_KEY)
    if not isinstance(found, HttpContext):
        raise RuntimeError("request did not pass through the partner-ingest middleware")
    return found


def request_info(conn: HTTPConnection) -> RequestInfo:
    """This request's facts (see `RequestInfo`)."""
    found = conn.scope.get(INFO_KEY)
    if not isinstance(found, RequestInfo):
        raise RuntimeError("request did not pass through the partner-ingest middleware")
    return found


def base_url(conn: HTTPConnection) -> str:
    """Where this app is served, mount prefix included (`http://host:8000/ingest-api`)."""
    url = conn.url
    return f"{url.scheme}://{url.netloc}{conn.scope.get('root_path', '')}"


_HEADERS_KEY: Final = "partner_ingest.headers"


def request_header(conn: HTTPConnection, name: str) -> str | None:
    """The first value of the request header `name`, as `conn.headers.get(name)` reads it.

    A feed request reads a dozen headers, most of them absent. Starlette's `Headers` scans
    the raw list for each and raises and catches a KeyError for each absent one; here the
    list becomes a dict once a request (kept in its scope), and each lookup is one probe.
    """
    scope = conn.scope
    found: dict[bytes, bytes] | None = scope.get(_HEADERS_KEY)
    if found is None:
        found = {}
        for key, value in scope["headers"]:
            if key not in found:  # the first, as Headers.get answers
                found[key] = value
        scope[_HEADERS_KEY] = found
    raw_name = _RAW_NAMES.get(name)
    if raw_name is None:
        raw_name = name.lower().encode("latin-1")
        if len(_RAW_NAMES) < _MAX_RAW_NAMES:  # the code's own names, a few dozen
            _RAW_NAMES[name] = raw_name
    value = found.get(raw_name)
    return None if value is None else value.decode("latin-1")


_RAW_NAMES: Final[dict[str, bytes]] = {}
"""Header names as asked for, each as the lower-case bytes of the ASGI scope."""
_MAX_RAW_NAMES: Final = 256
