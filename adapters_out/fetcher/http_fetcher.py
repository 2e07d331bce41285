"""`HttpFeedFetcher`: pulls a partner's feed over HTTP(S) with the standard library only.

Each hop (the URL, then every redirect) is parsed, its host resolved by us, every
resolved address checked by the `AddressPolicy`, and the TCP connection opened to a
checked address (pinned; see `_connection`). Timeouts bound the connect, each read,
and the whole fetch; caps bound the body on the wire and after gzip decoding. Every
failure comes back as a `FetchResult` outcome, never as an exception.

Credentials travel only in `FetchRequest.headers`: they are sent to the URL's origin
and dropped for good at the first redirect to another origin (as curl and browsers
do), and they never reach a log line or `detail`. Nor does a URL path or query, which
for signed URLs is itself a credential.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import BinaryIO, Final, cast
from urllib.parse import urljoin

import attrs

from partner_ingest.adapters_out.system import SystemClock
from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.fetcher import FetchOutcome, FetchRequest, FetchResult

from ._body import BodyTooLargeError, TruncatedBodyError, decoder_for, read_body
from ._connection import Deadline, open_pinned, tls_context
from ._request import (
    FetchStoppedError,
    Target,
    acceptable,
    checked_headers,
    has_header,
    host_for_result,
    ip_literal,
    media_type,
    parse_target,
    sendable,
)

__all__ = ["DEFAULT_USER_AGENT", "FetchLimits", "HttpFeedFetcher", "Resolver", "system_resolver"]

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT: Final = "partner-catalog-ingest (scheduled feed pull)"

Resolver = Callable[[str, int], Iterable[str]]
"""(host, port) -> IP address strings; raises OSError when the name does not resolve."""

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_DETAIL: Final = 200
# Outcomes whose detail already tells how many redirects were followed.
_SAYS_REDIRECTS: Final = frozenset(
    {FetchOutcome.FETCHED, FetchOutcome.NOT_MODIFIED, FetchOutcome.TOO_MANY_REDIRECTS}
)


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for `host` (socket.getaddrinfo), each address once."""
    found: list[str] = []
    for _family, _kind, _proto, _name, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


@attrs.frozen
class FetchLimits:
    """Timeouts (seconds) and caps (bytes) of one fetch; settings build it."""

    connect_timeout: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    read_timeout: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    """Longest wait for any single read (headers or body)."""
    total_timeout: float = attrs.field(default=120.0, validator=attrs.validators.gt(0))
    """Deadline for the whole fetch, redirects included."""
    max_bytes: int = attrs.field(default=100 * 2**20, validator=attrs.validators.gt(0))
    """Cap on the body as it travels."""
    max_decoded_bytes: int = attrs.field(default=500 * 2**20, validator=attrs.validators.gt(0))
    """Cap on a gzip body after decoding."""
    max_redirects: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    spool_memory_bytes: int = attrs.field(default=2**20, validator=attrs.validators.gt(0))
    """Bodies up to this size stay in memory; larger ones go to a temporary file."""


@attrs.define
class _Progress:
    """What the fetch has reached so far, for the result of an early stop."""

    host: str
    status: int | None = None
    redirects: int = 0


class HttpFeedFetcher:
    """A `FeedFetcher` over http.client: address policy, pinning, timeouts, caps, redirects."""

    def __init__(
        self,
        *,
        policy: AddressPolicy | None = None,
        limits: FetchLimits | None = None,
        clock: Clock | None = None,
        resolve: Resolver = system_resolver,
        ca_certificates: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self._policy = policy or AddressPolicy()
        self._limits = limits or FetchLimits()
        self._clock: Clock = clock or SystemClock()
        self._resolve = resolve
        self._tls = tls_context(ca_certificates)
        self._user_agent = user_agent

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch `request.url`; every failure is an outcome (see `FetchOutcome`)."""
        started = self._clock.monotonic()
        deadline = Deadline(self._clock.monotonic, self._limits.total_timeout, self._limits.read_timeout)
        progress = _Progress(host=host_for_result(request.url))
        try:
            result = self._follow(request, deadline, progress)
        except FetchStoppedError as stop:
            result = FetchResult(stop.outcome, host=progress.host, status=stop.status, detail=stop.detail)
        except TimeoutError:
            result = self._failed(FetchOutcome.TIMEOUT, progress, _timeout_detail(deadline))
        except ssl.SSLCertVerificationError as error:
            result = self._failed(
                FetchOutcome.CONNECTION_ERROR, progress, f"TLS certificate refused: {error.verify_message}"
            )
        except ssl.SSLError as error:
            result = self._failed(
                FetchOutcome.CONNECTION_ERROR, progress, f"TLS failed: {error.reason or error}"
            )
        except (OSError, http.client.IncompleteRead, TruncatedBodyError) as error:
            result = self._failed(FetchOutcome.CONNECTION_ERROR, progress, _describe(error))
        except http.client.HTTPException as error:
            result = self._failed(FetchOutcome.INVALID_RESPONSE, progress, _describe(error))
        except zlib.error as error:
            result = self._failed(FetchOutcome.INVALID_RESPONSE, progress, f"corrupt gzip body: {error}")
        except BodyTooLargeError as error:
            result = self._failed(FetchOutcome.TOO_LARGE, progress, str(error))
        except ValueError as error:
            # Last resort, never expected: the type only, as the message might quote a header value.
            result = self._failed(
                FetchOutcome.INVALID_REQUEST, progress, f"unusable request ({type(error).__name__})"
            )
        detail = result.detail
        if progress.redirects and result.outcome not in _SAYS_REDIRECTS:
            detail = f"{detail} (after {progress.redirects} redirect(s))"
        result = attrs.evolve(
            result, duration_seconds=self._clock.monotonic() - started, detail=detail[:_MAX_DETAIL]
        )
        logger.debug(
            "fetch from %s ended %s (status %s) in %.3fs",
            result.host,
            result.outcome,
            result.status,
            result.duration_seconds,
        )
        return result

    def _failed(self, outcome: FetchOutcome, progress: _Progress, detail: str) -> FetchResult:
        return FetchResult(outcome, host=progress.host, status=progress.status, detail=detail)

    def _follow(self, request: FetchRequest, deadline: Deadline, progress: _Progress) -> FetchResult:
        credentials = checked_headers(request.headers)
        for name, value in (("If-None-Match", request.etag), ("If-Modified-Since", request.last_modified)):
            if value is not None and not sendable(value):
                raise FetchStoppedError(
                    FetchOutcome.INVALID_REQUEST, f"the {name} value holds characters HTTP cannot carry"
                )
        url = request.url
        target = parse_target(url, redirect=False)
        while True:
            progress.host = target.host
            progress.status = None
            connection, response = self._exchange(target, request, credentials, deadline)
            try:
                progress.status = response.status
                if response.status not in _REDIRECTS:
                    return self._conclude(response, request, target, progress)
                if progress.redirects >= self._limits.max_redirects:
                    raise FetchStoppedError(
                        FetchOutcome.TOO_MANY_REDIRECTS,
                        f"more than {self._limits.max_redirects} redirects (last from {target.origin})",
                        response.status,
                    )
                location = response.getheader("Location")
                if not location:
                    raise FetchStoppedError(
                        FetchOutcome.INVALID_RESPONSE, "redirect without a Location header", response.status
                    )
                url = urljoin(url, location.strip())
                following = parse_target(url, redirect=True)
                if target.scheme == "https" and following.scheme == "http":
                    raise FetchStoppedError(
                        FetchOutcome.REFUSED_ADDRESS,
                        f"redirect from https to plain http ({following.origin}) refused",
                        response.status,
                    )
                if following.origin != target.origin:
                    credentials = {}
                progress.redirects += 1
                target = following
            finally:
                response.close()
                connection.close()

    def _exchange(
        self, target: Target, request: FetchRequest, credentials: Mapping[str, str], deadline: Deadline
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """One request on a fresh pinned connection; the caller closes both."""
        connection = self._connect(target, self._addresses(target), deadline)
        try:
            if connection.sock is not None:
                connection.sock.settimeout(deadline.wait(self._limits.read_timeout))
            connection.putrequest("GET", target.path, skip_accept_encoding=True)
            if not has_header(credentials, "User-Agent"):
                connection.putheader("User-Agent", self._user_agent)
            if not has_header(credentials, "Accept"):
                connection.putheader("Accept", ", ".join(request.accept) or "*/*")
            connection.putheader("Accept-Encoding", "gzip")
            if request.etag:
                connection.putheader("If-None-Match", request.etag)
            if request.last_modified:
                connection.putheader("If-Modified-Since", request.last_modified)
            for name, value in credentials.items():
                connection.putheader(name, value)
            connection.endheaders()
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    def connect(self, target: Target, deadline: Deadline) -> http.client.HTTPConnection:
        """A pinned connection to `target` after the address policy passed every address its host
        resolves to (FetchStoppedError otherwise): what a webhook delivery sends through."""
        return self._connect(target, self._addresses(target), deadline)

    @property
    def limits(self) -> FetchLimits:
        """This fetcher's timeouts and caps."""
        return self._limits

    def _addresses(self, target: Target) -> list[str]:
        literal = ip_literal(target.host)
        if literal is not None:
            candidates = [literal]
        else:
            try:
                candidates = list(dict.fromkeys(self._resolve(target.host, target.port)))
            except (OSError, UnicodeError) as error:
                raise FetchStoppedError(
                    FetchOutcome.CONNECTION_ERROR, f"cannot resolve {target.host}: {_describe(error)}"
                ) from None
        if not candidates:
            raise FetchStoppedError(FetchOutcome.CONNECTION_ERROR, f"{target.host} has no address")
        for address in candidates:
            refusal = self._policy.refusal(address)
            if refusal is not None:
                where = "" if literal is not None else f"{target.host} resolves to a refused address: "
                raise FetchStoppedError(FetchOutcome.REFUSED_ADDRESS, f"{where}{refusal}")
        return candidates

    def _connect(
        self, target: Target, addresses: list[str], deadline: Deadline
    ) -> http.client.HTTPConnection:
        failure: OSError | None = None
        for address in addresses:
            try:
                return open_pinned(
                    host=target.host,
                    port=target.port,
                    address=address,
                    deadline=deadline,
                    connect_timeout=self._limits.connect_timeout,
                    tls=self._tls if target.scheme == "https" else None,
                )
            except ssl.SSLError:
                raise  # the same certificate is served on every address: no point trying the next
            except OSError as error:
                failure = error
        if isinstance(failure, TimeoutError):
            if deadline.expired():
                raise FetchStoppedError(FetchOutcome.TIMEOUT, _timeout_detail(deadline))
            raise FetchStoppedError(
                FetchOutcome.TIMEOUT,
                f"connecting to {target.origin} timed out after {self._limits.connect_timeout:g}s",
            )
        raise FetchStoppedError(
            FetchOutcome.CONNECTION_ERROR, f"cannot connect to {target.origin}: {_describe(failure)}"
        )

    def _conclude(
        self, response: http.client.HTTPResponse, request: FetchRequest, target: Target, progress: _Progress
    ) -> FetchResult:
        status = response.status
        etag = response.getheader("ETag")
        last_modified = response.getheader("Last-Modified")
        note = f"after {progress.redirects} redirect(s)" if progress.redirects else ""
        if status == 304:
            return FetchResult(
                FetchOutcome.NOT_MODIFIED,
                host=target.host,
                status=status,
                etag=etag or request.etag,
                last_modified=last_modified or request.last_modified,
                detail=note,
            )
        if not 200 <= status < 300:
            return FetchResult(
                FetchOutcome.HTTP_ERROR,
                host=target.host,
                status=status,
                detail=f"{target.origin} answered {status} {response.reason[:60]}".rstrip(),
            )
        content_type = response.getheader("Content-Type")
        if not acceptable(content_type, request.accept):
            shown = media_type(content_type) or "no content type"
            wanted = ", ".join(request.accept)
            raise FetchStoppedError(FetchOutcome.BAD_CONTENT_TYPE, f"{shown} is not one of: {wanted}", status)
        encoding = response.getheader("Content-Encoding")
        decoder = decoder_for(
            encoding, max_bytes=self._limits.max_bytes, max_decoded_bytes=self._limits.max_decoded_bytes
        )
        if decoder is None:
            raise FetchStoppedError(
                FetchOutcome.BAD_CONTENT_TYPE,
                f"content encoding {(encoding or '')[:40]!r} is not supported",
                status,
            )
        if response.length is not None and response.length > self._limits.max_bytes:
            raise FetchStoppedError(
                FetchOutcome.TOO_LARGE,
                f"declared length {response.length} exceeds the {self._limits.max_bytes}-byte cap",
                status,
            )
        body, size = read_body(
            response,
            decoder,
            max_bytes=self._limits.max_bytes,
            spool_memory_bytes=self._limits.spool_memory_bytes,
        )
        return FetchResult(
            FetchOutcome.FETCHED,
            host=target.host,
            status=status,
            bytes=size,
            body=cast("BinaryIO", body),
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
            detail=note,
        )


def _timeout_detail(deadline: Deadline) -> str:
    if deadline.expired():
        return f"total deadline of {deadline.total:g}s exceeded"
    return f"no data for {deadline.read_timeout:g}s (read timeout)"


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no address to try"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error)
    return f"{type(error).__name__}: {text[:120]}" if text else type(error).__name__
