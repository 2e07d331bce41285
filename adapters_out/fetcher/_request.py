"""What one hop needs from the URL and the caller's headers, checked before anything is sent.

Messages name what is wrong but never repeat a header value, a path or a query: any of
them may be a credential (a bearer token, a signed URL).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlsplit

import attrs

from partner_ingest.ports.fetcher import FetchOutcome

__all__ = [
    "FetchStoppedError",
    "Target",
    "acceptable",
    "checked_headers",
    "has_header",
    "host_for_result",
    "ip_literal",
    "media_type",
    "parse_target",
    "sendable",
]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOSTNAME: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?")
_UNSAFE_IN_TARGET: Final = re.compile(r"[\x00-\x20\x7f]")
# Set by the fetcher itself; a caller setting them would break caps, pinning or caching.
_MANAGED_HEADERS: Final = frozenset(
    {
        "host",
        "accept-encoding",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
        "if-none-match",
        "if-modified-since",
    }
)


class FetchStoppedError(Exception):
    """Ends a fetch early with an outcome (`HttpFeedFetcher.fetch` turns it into a result)."""

    def __init__(self, outcome: FetchOutcome, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.status = status


@attrs.frozen
class Target:
    """One hop's URL, split into what the connection needs."""

    scheme: str
    host: str
    port: int
    path: str
    """Path and query, sent in the request line; never logged."""

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_target(url: str, *, redirect: bool) -> Target:
    """Split and check one hop's URL; the messages never repeat the path or query."""
    invalid = FetchOutcome.INVALID_RESPONSE if redirect else FetchOutcome.INVALID_REQUEST
    which = "redirect target" if redirect else "URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchStoppedError(invalid, f"the {which} is malformed (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchStoppedError(
            FetchOutcome.REFUSED_ADDRESS,
            f"the {which} scheme {scheme[:20]!r} is refused: only http and https",
        )
    if parts.username is not None or parts.password is not None:
        raise FetchStoppedError(
            invalid, f"the {which} carries credentials; store them as the endpoint's credential instead"
        )
    host = _ascii_host(parts.hostname or "")
    if host is None:
        raise FetchStoppedError(invalid, f"the {which} has no valid host name")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    path = "".join(char if char.isascii() else quote(char) for char in path)
    if _UNSAFE_IN_TARGET.search(path):
        raise FetchStoppedError(invalid, f"the {which} path or query holds spaces or control characters")
    return Target(scheme, host, port or _DEFAULT_PORTS[scheme], path)


def _ascii_host(host: str) -> str | None:
    literal = ip_literal(host)
    if literal is not None:
        return literal
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return ascii_host if _HOSTNAME.fullmatch(ascii_host) else None


def ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def host_for_result(url: str) -> str:
    """The host to report when the URL itself cannot be used (never the whole URL)."""
    try:
        return (urlsplit(url).hostname or "")[:253]
    except ValueError:
        return ""


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers, refused as a whole if one cannot be sent; names only in messages."""
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise FetchStoppedError(
                FetchOutcome.INVALID_REQUEST, f"header name {name[:40]!r} is not a valid token"
            )
        if name.lower() in _MANAGED_HEADERS:
            raise FetchStoppedError(
                FetchOutcome.INVALID_REQUEST, f"header {name!r} is set by the fetcher, not the caller"
            )
        if not sendable(value):
            raise FetchStoppedError(
                FetchOutcome.INVALID_REQUEST,
                f"the value of header {name!r} holds characters HTTP cannot carry",
            )
    return dict(headers)


def has_header(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def sendable(value: str) -> bool:
    """A header value http.client would send as is (its own errors would quote the value)."""
    if any(char in value for char in "\r\n\0"):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def acceptable(content_type: str | None, accept: tuple[str, ...]) -> bool:
    if not accept:
        return True
    media = media_type(content_type)
    if not media:
        return False
    for wanted in (media_type(item) for item in accept):
        if wanted in ("*/*", media) or (wanted.endswith("/*") and media.startswith(wanted[:-1])):
            return True
    return False
