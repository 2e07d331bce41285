"""Connection hygiene against a real server on loopback, with real sockets (adapters_in/http/connections.py).

A socket that sends nothing, or sends its request head a byte at a time, is
closed after PARTNER_INGEST_HEADER_TIMEOUT_SECONDS; an idle keep-alive
connection after PARTNER_INGEST_KEEP_ALIVE_SECONDS; beyond
PARTNER_INGEST_MAX_CONNECTIONS a request is answered 503 `server_busy` in the
API's error shape while the connections already open are served, and once the
crowd leaves, new connections are served again.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from support.service import Service

_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
HEADER_TIMEOUT = 0.4
"""Long enough for four of the slow client's header lines (one every 0.1 s), each well inside it;
a test waits it out on a real socket, so no longer than that (the default is 10 s)."""


@contextmanager
def _socket(service: Service) -> Iterator[socket.socket]:
    address = urlsplit(service.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        yield conn


def _answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one answer read from `conn`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
    }
    while len(body) < int(headers.get("content-length", "0")):
        body += conn.recv(65536)
    return int(status_line.split()[1]), headers, body


def _closed_after(conn: socket.socket) -> float:
    """Seconds until the server closes `conn` (reading whatever it sends)."""
    started = time.monotonic()
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_a_socket_that_sends_nothing_is_closed_after_the_header_timeout(
    serve: Callable[..., Service],
) -> None:
    service = serve(header_timeout_seconds=HEADER_TIMEOUT)
    with _socket(service) as conn:
        waited = _closed_after(conn)
    assert HEADER_TIMEOUT - 0.1 < waited < HEADER_TIMEOUT + 4, waited


def test_a_client_sending_its_request_head_slowly_is_cut_off(serve: Callable[..., Service]) -> None:
    service = serve(header_timeout_seconds=HEADER_TIMEOUT)
    with _socket(service) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        cut_off = False
        for n in range(40):  # a header line every 0.1 s: 4 s if nobody stops it
            try:
                conn.sendall(f"X-Slow-{n}: {n}\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                cut_off = True
                break
            conn.settimeout(0.1)
            try:
                if conn.recv(65536) == b"":
                    cut_off = True
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:  # closed with header lines it had not read: a reset
                cut_off = True
                break
        elapsed = time.monotonic() - started
    assert cut_off, "the server kept reading a request head for 4 s"
    assert HEADER_TIMEOUT - 0.1 < elapsed < HEADER_TIMEOUT + 2, elapsed


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    serve: Callable[..., Service],
) -> None:
    service = serve(header_timeout_seconds=30, keep_alive_seconds=1)
    with _socket(service) as conn:
        conn.sendall(_HEALTHZ)
        status, headers, _ = _answer(conn)
        assert status == 200 and headers.get("connection") != "close"
        waited = _closed_after(conn)
    assert 0.8 < waited < 5, waited


def test_the_keep_alive_timeout_runs_from_the_last_answer_and_ends_at_the_next_requests_bytes(
    serve: Callable[..., Service],
) -> None:
    service = serve(header_timeout_seconds=30, keep_alive_seconds=1)
    with _socket(service) as conn:
        for _ in range(3):  # 1.2 s in all, longer than the keep-alive timeout: each answer moves it
            conn.sendall(_HEALTHZ)
            assert _answer(conn)[0] == 200
            time.sleep(0.4)
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head begun: no longer idle
        time.sleep(1.5)
        conn.sendall(b"Host: test\r\n\r\n")
        assert _answer(conn)[0] == 200
        waited = _closed_after(conn)
    assert 0.8 < waited < 5, waited


def test_after_an_answer_the_header_timeout_closes_a_silent_connection_before_the_keep_alive_one(
    serve: Callable[..., Service],
) -> None:
    service = serve(header_timeout_seconds=HEADER_TIMEOUT, keep_alive_seconds=5)
    with _socket(service) as conn:
        conn.sendall(_HEALTHZ)
        assert _answer(conn)[0] == 200
        waited = _closed_after(conn)
    assert HEADER_TIMEOUT - 0.1 < waited < HEADER_TIMEOUT + 2, waited


def test_beyond_the_connection_cap_a_request_gets_503_and_the_server_serves_on(
    serve: Callable[..., Service],
) -> None:
    service = serve(header_timeout_seconds=30, max_connections=5)
    with ExitStack() as crowd:
        held = [crowd.enter_context(_socket(service)) for _ in range(5)]
        held[0].sendall(_HEALTHZ)
        assert _answer(held[0])[0] == 200  # the five are open, and served
        with _socket(service) as extra:
            extra.sendall(_HEALTHZ)
            status, headers, body = _answer(extra)
            assert status == 503, body
            assert headers["content-type"] == "application/json" and headers["retry-after"] == "1"
            assert headers["connection"] == "close"
            document = json.loads(body)
            assert document["error"] == "server_busy" and document["details"]["max_connections"] == 5
            assert _closed_after(extra) < 5  # and the connection is let go
        held[1].sendall(_HEALTHZ)
        assert _answer(held[1])[0] == 200  # the connections already open are still served
    deadline = time.monotonic() + 5
    while True:  # the crowd has left: a new connection is served again
        with _socket(service) as conn:
            conn.sendall(_HEALTHZ)
            status, _, _ = _answer(conn)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 200
