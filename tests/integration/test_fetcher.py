"""`HttpFeedFetcher` against real servers on loopback (HTTP and HTTPS): every way a pull can
go wrong ends in a clear `FetchOutcome`, and credentials never show up anywhere."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.tracing import untraced

from partner_ingest.adapters_out.fetcher import AddressPolicy, FetchLimits, HttpFeedFetcher
from partner_ingest.ports.fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult

FEED = json.dumps({"items": [{"sku": "A-1", "name": "Widget", "price": "9.99"}]}).encode()
ETAG = '"feed-v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
SECRET = "s3cret-XYZ-credential"
LIMITS = FetchLimits(
    connect_timeout=0.5,
    read_timeout=0.3,
    total_timeout=1.0,
    max_bytes=1_000_000,
    max_decoded_bytes=1_000_000,
    max_redirects=3,
    spool_memory_bytes=4096,
)
QUICK_DEADLINES = attrs.evolve(LIMITS, connect_timeout=0.25, total_timeout=0.5)
"""For the tests whose subject is a deadline running out: each waits its deadline out on a real
socket, so a shorter one proves the same for half the wait. The others keep LIMITS' roomier
deadlines, which a fetch slowed by a loaded machine must never run out of."""
quick_deadlines = pytest.mark.parametrize("limits", [QUICK_DEADLINES], ids=["quick-deadlines"])


# --- the partner's server ------------------------------------------------------


@attrs.frozen
class Seen:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]


@cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 20_000_000, compresslevel=9)


class FeedHandler(BaseHTTPRequestHandler):
    """The partner's feed server: one route per way a pull can go."""

    protocol_version = "HTTP/1.1"
    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        route = getattr(self, "route_" + parts.path.strip("/").translate(str.maketrans("-./", "___")), None)
        if route is None:
            self.reply(404, b"no such route", "text/plain")
        else:
            route(query)

    def reply(
        self, status: int, body: bytes, content_type: str | None = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def pause(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False once it is."""
        return not self.server.stop.wait(seconds)

    # routes

    def route_feed_json(self, query: dict[str, str]) -> None:
        conditional = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
        if (
            self.headers.get("If-None-Match") == ETAG
            or self.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            self.send_response(304)
            for name, value in conditional.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.reply(200, FEED, "application/json; charset=utf-8", ETag=ETAG, Last_Modified=LAST_MODIFIED)

    def route_echo(self, query: dict[str, str]) -> None:
        self.reply(200, json.dumps({k.lower(): v for k, v in self.headers.items()}).encode())

    def route_typed(self, query: dict[str, str]) -> None:
        self.reply(200, b"<html></html>", query.get("type") or None)

    def route_status(self, query: dict[str, str]) -> None:
        self.reply(int(query["code"]), b'{"error": "down"}')

    def route_redirect(self, query: dict[str, str]) -> None:
        self.reply(int(query.get("code", "302")), b"", None, Location=query["to"])

    def route_loop(self, query: dict[str, str]) -> None:
        self.reply(302, b"", None, Location="/loop")

    def route_no_location(self, query: dict[str, str]) -> None:
        self.reply(302, b"", None)

    def route_slow_headers(self, query: dict[str, str]) -> None:
        if self.pause(3.0):
            self.reply(200, FEED)

    def route_drip_headers(self, query: dict[str, str]) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):  # a header byte every 0.1 s: each read is quick, the whole is not
            if not self.pause(0.1):
                return
            self.wfile.write(b"X")
            self.wfile.flush()

    def route_drip(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "40")
        self.end_headers()
        for _ in range(40):
            if not self.pause(0.1):
                return
            self.wfile.write(b" ")
            self.wfile.flush()

    def route_huge(self, query: dict[str, str]) -> None:
        """5 MB, chunked (no length announced): the cap must hold while streaming."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        size = int(query.get("size", 5_000_000))
        sent = 0
        while sent < size:
            piece = chunk[: size - sent]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        self.wfile.write(b"0\r\n\r\n")

    def route_huge_declared(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(10**10))
        self.end_headers()

    def route_truncated(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'{"items": [')
        self.close_connection = True

    def route_gzip(self, query: dict[str, str]) -> None:
        self.reply(200, gzip.compress(FEED), Content_Encoding="gzip")

    def route_bomb(self, query: dict[str, str]) -> None:
        self.reply(200, gzip_bomb(), Content_Encoding="gzip")

    def route_corrupt_gzip(self, query: dict[str, str]) -> None:
        self.reply(200, b"this is not gzip at all", Content_Encoding="gzip")

    def route_brotli(self, query: dict[str, str]) -> None:
        self.reply(200, b"\x0b\x02\x80", Content_Encoding="br")

    def route_not_http(self, query: dict[str, str]) -> None:
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        self.close_connection = True


class FeedServer(ThreadingHTTPServer):
    """Handler threads are joined on close (warnings are errors: no thread outlives a test module)."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.stop = threading.Event()
        self.seen: list[Seen] = []
        self.sni: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # The server is the test's own code (and the standard library's): its handler threads
        # run outside the coverage tracer, which would cost them twice their CPU for nothing.
        serve = super().process_request_thread
        untraced(lambda: serve(request, client_address))

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the fetcher hung up on purpose (cap, timeout): not the server's problem
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serving(server: FeedServer) -> Iterator[FeedServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def module_server() -> Iterator[FeedServer]:
    with serving(FeedServer()) as server:
        yield server


@pytest.fixture
def server(module_server: FeedServer) -> FeedServer:
    module_server.seen.clear()
    return module_server


# --- the fetcher under test ----------------------------------------------------


class Resolver:
    """A DNS of our own: names map to address lists; counts every question."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.questions: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        {
            "feed.example": ["127.0.0.1"],
            "other.example": ["127.0.0.1"],
            "metadata.internal": ["169.254.169.254"],
            "mixed.example": ["127.0.0.1", "10.0.0.7"],
            "mapped.example": ["::ffff:169.254.169.254"],
            "empty.example": [],
        }
    )


@pytest.fixture
def results() -> Iterator[list[FetchResult]]:
    """Every result a test makes; their bodies are closed afterwards."""
    made: list[FetchResult] = []
    yield made
    for result in made:
        if result.body is not None:
            result.body.close()


@pytest.fixture
def limits() -> FetchLimits:
    """The fetchers' limits; a test overrides them with `quick_deadlines`."""
    return LIMITS


@pytest.fixture
def fetch(resolver: Resolver, results: list[FetchResult], limits: FetchLimits) -> Callable[..., FetchResult]:
    fetcher: FeedFetcher = HttpFeedFetcher(
        policy=AddressPolicy.from_cidrs(["127.0.0.0/8"]), limits=limits, resolve=resolver
    )

    def run(url: str, **fields: object) -> FetchResult:
        result = fetcher.fetch(FetchRequest(url=url, **fields))  # type: ignore[arg-type]
        results.append(result)
        return result

    return run


def url(server: FeedServer, path: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{server.port}{path}"


# --- fetched ----------------------------------------------------------------------


def test_a_normal_feed_is_fetched(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/feed.json"), accept=("application/json",))
    assert result.outcome is FetchOutcome.FETCHED
    assert result.status == 200
    assert result.host == "127.0.0.1"
    assert result.body is not None
    assert result.body.read() == FEED
    assert result.bytes == len(FEED)
    assert result.content_type == "application/json; charset=utf-8"
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert 0 < result.duration_seconds < 1


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    server: FeedServer, fetch: Callable[..., FetchResult], resolver: Resolver
) -> None:
    # feed.example exists only in our resolver: http.client dialling by name would fail.
    result = fetch(url(server, "/echo", host="feed.example"))
    assert result.outcome is FetchOutcome.FETCHED
    assert result.body is not None
    seen = json.loads(result.body.read())
    assert seen["host"] == f"feed.example:{server.port}"
    assert resolver.questions == ["feed.example"]  # asked once, then pinned


def test_a_rebinding_dns_answer_cannot_swap_the_address(
    server: FeedServer, results: list[FetchResult]
) -> None:
    class Rebinding(Resolver):
        """Answers loopback (allowed) first, then a private address: DNS rebinding."""

        def __call__(self, host: str, port: int) -> list[str]:
            self.questions.append(host)
            return ["127.0.0.1"] if len(self.questions) == 1 else ["10.0.0.1"]

    rebinding = Rebinding({})
    fetcher = HttpFeedFetcher(
        policy=AddressPolicy.from_cidrs(["127.0.0.0/8"]), limits=LIMITS, resolve=rebinding
    )
    result = fetcher.fetch(FetchRequest(url=url(server, "/feed.json", host="rebind.example")))
    results.append(result)
    assert result.outcome is FetchOutcome.FETCHED  # connected to the address that was checked
    assert rebinding.questions == ["rebind.example"]  # and never asked again


def test_standard_request_headers_are_sent(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/echo"), accept=("application/json", "application/x-ndjson"))
    assert result.body is not None
    seen = json.loads(result.body.read())
    assert seen["accept"] == "application/json, application/x-ndjson"
    assert seen["accept-encoding"] == "gzip"
    assert "partner-catalog-ingest" in seen["user-agent"]
    assert "if-none-match" not in seen


def test_a_body_larger_than_the_memory_spool_still_arrives_whole(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/huge?size=300000"))  # spool_memory_bytes is 4096
    assert result.outcome is FetchOutcome.FETCHED
    assert result.body is not None
    assert result.body.read() == b"x" * 300_000
    assert result.bytes == 300_000


def test_gzip_bodies_are_decoded(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/gzip"))
    assert result.outcome is FetchOutcome.FETCHED
    assert result.body is not None
    assert result.body.read() == FEED
    assert result.bytes == len(FEED)


def test_a_same_origin_redirect_is_followed_with_credentials(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/redirect?to=/echo&code=301"), headers={"Authorization": f"Bearer {SECRET}"})
    assert result.outcome is FetchOutcome.FETCHED
    assert result.detail == "after 1 redirect(s)"
    assert result.body is not None
    assert json.loads(result.body.read())["authorization"] == f"Bearer {SECRET}"


def test_credentials_are_dropped_at_a_redirect_to_another_origin(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    elsewhere = quote(url(server, "/echo", host="other.example"), safe="")
    result = fetch(
        url(server, f"/redirect?to={elsewhere}", host="feed.example"),
        headers={"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
    )
    assert result.outcome is FetchOutcome.FETCHED
    assert result.host == "other.example"
    assert result.body is not None
    seen = json.loads(result.body.read())
    assert seen["host"] == f"other.example:{server.port}"
    assert "authorization" not in seen
    assert "x-api-key" not in seen
    assert server.seen[0].headers["authorization"] == f"Bearer {SECRET}"  # the first hop had them


# --- conditional GET ------------------------------------------------------------


def test_a_matching_etag_is_not_modified(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/feed.json"), etag=ETAG)
    assert result.outcome is FetchOutcome.NOT_MODIFIED
    assert result.status == 304
    assert result.body is None
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert server.seen[-1].headers["if-none-match"] == ETAG


def test_if_modified_since_is_sent_and_honoured(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/feed.json"), last_modified=LAST_MODIFIED)
    assert result.outcome is FetchOutcome.NOT_MODIFIED
    assert server.seen[-1].headers["if-modified-since"] == LAST_MODIFIED


def test_a_stale_etag_fetches_the_new_feed(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/feed.json"), etag='"old"')
    assert result.outcome is FetchOutcome.FETCHED
    assert result.etag == ETAG


# --- refused addresses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "host", "word"),
    [
        ("http://10.0.0.1/feed.json", "10.0.0.1", "private"),
        ("http://metadata.internal/latest/meta-data/", "metadata.internal", "link-local"),
        (
            "http://[::ffff:169.254.169.254]/",
            str(ipaddress.ip_address("::ffff:169.254.169.254")),
            "link-local",
        ),
        ("http://mapped.example/", "mapped.example", "link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "link-local"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(
    server: FeedServer, fetch: Callable[..., FetchResult], target: str, host: str, word: str
) -> None:
    result = fetch(url(server, f"/redirect?to={quote(target, safe='')}"))
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS
    assert result.host == host
    assert word in result.detail
    assert result.detail.endswith("(after 1 redirect(s))")
    assert len(server.seen) == 1  # nothing went anywhere after the redirect


def test_a_refused_url_is_never_connected_to(fetch: Callable[..., FetchResult], resolver: Resolver) -> None:
    result = fetch("http://169.254.169.254/latest/meta-data/iam/")
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS
    assert result.detail == "169.254.169.254 is link-local (cloud metadata lives here) (169.254.0.0/16)"
    assert resolver.questions == []  # a literal address needs no DNS


def test_every_resolved_address_is_checked(fetch: Callable[..., FetchResult]) -> None:
    result = fetch("http://mixed.example/feed.json")
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS
    assert "mixed.example resolves to a refused address: 10.0.0.7 is private" in result.detail


@pytest.mark.parametrize("target", ["ftp://feed.example/feed.json", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https_are_fetched(fetch: Callable[..., FetchResult], target: str) -> None:
    result = fetch(target)
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS
    assert "only http and https" in result.detail


def test_a_redirect_to_another_scheme_is_refused(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/redirect?to=file:///etc/passwd"))
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS


# --- redirects -------------------------------------------------------------------


def test_a_redirect_loop_stops(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/loop"))
    assert result.outcome is FetchOutcome.TOO_MANY_REDIRECTS
    assert result.status == 302
    assert "more than 3 redirects" in result.detail
    assert len(server.seen) == 4  # the request and three redirects


def test_a_redirect_without_location_is_an_invalid_response(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/no-location"))
    assert result.outcome is FetchOutcome.INVALID_RESPONSE
    assert result.status == 302


# --- HTTP errors and content ------------------------------------------------------


@pytest.mark.parametrize("code", [500, 503, 404, 401, 429])
def test_error_statuses_are_http_errors(
    server: FeedServer, fetch: Callable[..., FetchResult], code: int
) -> None:
    result = fetch(url(server, f"/status?code={code}"))
    assert result.outcome is FetchOutcome.HTTP_ERROR
    assert result.status == code
    assert result.body is None
    assert str(code) in result.detail


def test_a_wrong_content_type_is_refused(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/typed?type=text/html"), accept=("application/json", "text/csv"))
    assert result.outcome is FetchOutcome.BAD_CONTENT_TYPE
    assert result.detail == "text/html is not one of: application/json, text/csv"
    assert result.body is None


def test_a_missing_content_type_is_refused_when_types_are_expected(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/typed"), accept=("application/json",))
    assert result.outcome is FetchOutcome.BAD_CONTENT_TYPE
    assert "no content type" in result.detail


@pytest.mark.parametrize("accept", [(), ("text/*",), ("*/*",), ("TEXT/HTML; q=0.9",)])
def test_wildcards_and_no_preference_accept_the_type(
    server: FeedServer, fetch: Callable[..., FetchResult], accept: tuple[str, ...]
) -> None:
    assert fetch(url(server, "/typed?type=text/html"), accept=accept).outcome is FetchOutcome.FETCHED


def test_an_unsupported_content_encoding_is_refused(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/brotli"))
    assert result.outcome is FetchOutcome.BAD_CONTENT_TYPE
    assert "content encoding 'br'" in result.detail


def test_a_corrupt_gzip_body_is_an_invalid_response(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/corrupt-gzip"))
    assert result.outcome is FetchOutcome.INVALID_RESPONSE
    assert "gzip" in result.detail


def test_something_that_is_not_http_is_an_invalid_response(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/not-http"))
    assert result.outcome is FetchOutcome.INVALID_RESPONSE
    assert result.detail.startswith("BadStatusLine")


# --- size caps -------------------------------------------------------------------------


def test_a_huge_streamed_body_stops_at_the_cap(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    result = fetch(url(server, "/huge"))
    assert result.outcome is FetchOutcome.TOO_LARGE
    assert result.detail == "body exceeds the 1000000-byte cap"
    assert result.body is None


def test_a_huge_declared_length_stops_before_reading(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/huge-declared"))
    assert result.outcome is FetchOutcome.TOO_LARGE
    assert "declared length 10000000000" in result.detail


def test_a_gzip_bomb_stops_at_the_decoded_cap(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    assert len(gzip_bomb()) < LIMITS.max_bytes  # small on the wire ...
    result = fetch(url(server, "/bomb"))
    assert result.outcome is FetchOutcome.TOO_LARGE  # ... but not once decoded
    assert result.detail == "decompressed body exceeds the 1000000-byte cap"


def test_a_truncated_body_is_a_connection_error(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    result = fetch(url(server, "/truncated"))
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert "before the end of the body" in result.detail
    assert result.status == 200


# --- time ---------------------------------------------------------------------------------


def test_a_slow_response_hits_the_read_timeout(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    started = time.monotonic()
    result = fetch(url(server, "/slow-headers"))
    assert result.outcome is FetchOutcome.TIMEOUT
    assert result.detail == "no data for 0.3s (read timeout)"
    assert time.monotonic() - started < 0.9
    assert 0.25 < result.duration_seconds < 0.9


@quick_deadlines
def test_a_slow_drip_body_hits_the_total_deadline(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    started = time.monotonic()
    result = fetch(url(server, "/drip"))
    assert result.outcome is FetchOutcome.TIMEOUT
    assert result.detail == "total deadline of 0.5s exceeded"
    assert result.status == 200
    assert 0.45 < time.monotonic() - started < 1.1


@quick_deadlines
def test_slow_drip_headers_hit_the_total_deadline(
    server: FeedServer, fetch: Callable[..., FetchResult]
) -> None:
    started = time.monotonic()
    result = fetch(url(server, "/drip-headers"))
    assert result.outcome is FetchOutcome.TIMEOUT
    assert result.detail == "total deadline of 0.5s exceeded"
    assert time.monotonic() - started < 1.1


@quick_deadlines
def test_a_connect_that_hangs_hits_the_connect_timeout(fetch: Callable[..., FetchResult]) -> None:
    # A listener whose backlog is full: the kernel drops further SYNs, so connect() hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            time.sleep(0.05)
            started = time.monotonic()
            result = fetch(f"http://127.0.0.1:{port}/feed.json")
        finally:
            for filler in fillers:
                filler.close()
    assert result.outcome is FetchOutcome.TIMEOUT
    assert result.detail == f"connecting to http://127.0.0.1:{port} timed out after 0.25s"
    assert time.monotonic() - started < 0.65


# --- connection problems and unusable requests ------------------------------------------------


def test_a_closed_port_is_a_connection_error(fetch: Callable[..., FetchResult]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/feed.json")
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert f"cannot connect to http://127.0.0.1:{port}" in result.detail


def test_an_unknown_host_is_a_connection_error(fetch: Callable[..., FetchResult]) -> None:
    result = fetch("http://nowhere.example/feed.json")
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert result.detail == "cannot resolve nowhere.example: Name or service not known"
    assert fetch("http://empty.example/").detail == "empty.example has no address"


@pytest.mark.parametrize(
    ("target", "word"),
    [
        ("http://", "no valid host"),
        ("http://[::1/feed", "malformed"),
        ("http://feed.example:99999/feed", "malformed"),
        ("http://user:pw@feed.example/feed", "carries credentials"),
        ("http://bad host.example/feed", "no valid host"),
        ("https://exa$mple.com/", "no valid host"),
    ],
)
def test_unusable_urls_are_invalid_requests(
    fetch: Callable[..., FetchResult], target: str, word: str
) -> None:
    result = fetch(target)
    assert result.outcome is FetchOutcome.INVALID_REQUEST
    assert word in result.detail
    assert "pw" not in result.detail


@pytest.mark.parametrize(
    ("headers", "word"),
    [
        ({"Authorization": f"Bearer {SECRET}\r\nX-Injected: 1"}, "'Authorization' holds characters"),
        ({"Authorization": f"Bearer {SECRET}\u2603"}, "'Authorization' holds characters"),
        ({"Bad Name": SECRET}, "not a valid token"),
        ({"Host": "evil.example"}, "'Host' is set by the fetcher"),
        ({"accept-encoding": "br"}, "set by the fetcher"),
    ],
)
def test_unusable_headers_are_invalid_requests_that_never_echo_the_value(
    server: FeedServer, fetch: Callable[..., FetchResult], headers: dict[str, str], word: str
) -> None:
    result = fetch(url(server, "/feed.json"), headers=headers)
    assert result.outcome is FetchOutcome.INVALID_REQUEST
    assert word in result.detail
    assert SECRET not in result.detail
    assert server.seen == []


def test_unicode_host_names_are_sent_as_idna(
    server: FeedServer, fetch: Callable[..., FetchResult], resolver: Resolver
) -> None:
    resolver.table["xn--bcher-kva.example"] = ["127.0.0.1"]
    result = fetch(url(server, "/echo", host="bücher.example"))
    assert result.outcome is FetchOutcome.FETCHED
    assert result.body is not None
    assert json.loads(result.body.read())["host"] == f"xn--bcher-kva.example:{server.port}"


def test_non_ascii_paths_are_percent_encoded(server: FeedServer, fetch: Callable[..., FetchResult]) -> None:
    fetch(url(server, "/feed.json?name=café"))
    assert server.seen[-1].path == "/feed.json?name=caf%C3%A9"


# --- secrets never show --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/feed.json",
        "/status?code=500",
        "/typed?type=text/html",
        "/loop",
        "/huge",
        "/bomb",
        "/slow-headers",
        "/truncated",
        "/redirect?to=http%3A%2F%2F10.0.0.1%2F",
    ],
)
def test_credentials_and_url_queries_never_reach_results_or_logs(
    server: FeedServer, fetch: Callable[..., FetchResult], caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    joiner = "&" if "?" in path else "?"
    result = fetch(
        url(server, f"{path}{joiner}signature=q-{SECRET}"),
        headers={"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
        accept=("application/json",),
    )
    assert SECRET not in repr(result)
    assert SECRET not in result.detail
    assert "signature" not in result.detail
    assert caplog.records  # the fetch was logged ...
    assert all(SECRET not in record.getMessage() for record in caplog.records)  # ... without secrets


def test_the_request_repr_hides_the_headers() -> None:
    request = FetchRequest(url="https://feed.example/", headers={"Authorization": SECRET})
    assert SECRET not in repr(request)


# --- HTTPS ---------------------------------------------------------------------------------------------


@attrs.frozen
class Pki:
    ca_pem: str
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throw-away CA and a certificate for feed.example (cryptography is a dev dependency)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner-ingest test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "feed.example")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("feed.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("pki")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Pki(ca_cert.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file)


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[FeedServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    with serving(FeedServer(tls=context)) as server:
        yield server


@pytest.fixture
def https_fetch(
    pki: Pki, resolver: Resolver, results: list[FetchResult], limits: FetchLimits
) -> Callable[..., FetchResult]:
    fetcher = HttpFeedFetcher(
        policy=AddressPolicy.from_cidrs(["127.0.0.0/8"]),
        limits=limits,
        resolve=resolver,
        ca_certificates=pki.ca_pem,
    )

    def run(url: str, **fields: object) -> FetchResult:
        result = fetcher.fetch(FetchRequest(url=url, **fields))  # type: ignore[arg-type]
        results.append(result)
        return result

    return run


def test_https_is_pinned_with_sni_and_a_verified_certificate(
    tls_server: FeedServer, https_fetch: Callable[..., FetchResult]
) -> None:
    tls_server.seen.clear()
    tls_server.sni.clear()
    result = https_fetch(f"https://feed.example:{tls_server.port}/feed.json")
    assert result.outcome is FetchOutcome.FETCHED
    assert result.body is not None
    assert result.body.read() == FEED
    assert tls_server.sni == ["feed.example"]
    assert tls_server.seen[-1].headers["host"] == f"feed.example:{tls_server.port}"


def test_https_refuses_a_certificate_for_another_name(
    tls_server: FeedServer, https_fetch: Callable[..., FetchResult]
) -> None:
    result = https_fetch(f"https://other.example:{tls_server.port}/feed.json")
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert "TLS certificate refused" in result.detail
    assert "other.example" in result.detail


def test_https_refuses_an_untrusted_certificate(
    tls_server: FeedServer, resolver: Resolver, results: list[FetchResult]
) -> None:
    fetcher = HttpFeedFetcher(
        policy=AddressPolicy.from_cidrs(["127.0.0.0/8"]), limits=LIMITS, resolve=resolver
    )
    result = fetcher.fetch(FetchRequest(url=f"https://feed.example:{tls_server.port}/feed.json"))
    results.append(result)
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert "certificate" in result.detail


def test_https_to_plain_http_redirects_are_refused(
    tls_server: FeedServer, server: FeedServer, https_fetch: Callable[..., FetchResult]
) -> None:
    downgrade = quote(url(server, "/feed.json", host="feed.example"), safe="")
    result = https_fetch(f"https://feed.example:{tls_server.port}/redirect?to={downgrade}")
    assert result.outcome is FetchOutcome.REFUSED_ADDRESS
    assert "from https to plain http" in result.detail
    assert server.seen == []


@quick_deadlines
def test_the_total_deadline_holds_over_tls(
    tls_server: FeedServer, https_fetch: Callable[..., FetchResult]
) -> None:
    started = time.monotonic()
    result = https_fetch(f"https://feed.example:{tls_server.port}/drip")
    assert result.outcome is FetchOutcome.TIMEOUT
    assert result.detail == "total deadline of 0.5s exceeded"
    assert time.monotonic() - started < 1.1


def test_a_plain_http_server_behind_an_https_url_is_a_connection_error(
    server: FeedServer, https_fetch: Callable[..., FetchResult]
) -> None:
    result = https_fetch(f"https://feed.example:{server.port}/feed.json")
    assert result.outcome is FetchOutcome.CONNECTION_ERROR
    assert result.detail.startswith("TLS failed")
