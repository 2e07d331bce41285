"""`HttpWebhookSender` against real sockets on loopback: the pull fetcher's address policy holds at
delivery time (a name that resolves to the platform's network is refused before connecting),
a redirect is a failed attempt, and a receiver that never answers times out."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from partner_ingest.adapters_out.fetcher import AddressPolicy, FetchLimits, HttpFeedFetcher, HttpWebhookSender

LOOPBACK = AddressPolicy(allowed=(ipaddress.ip_network("127.0.0.0/8"),))


@contextmanager
def answering(status: int, **headers: str) -> Iterator[tuple[int, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for the loop to look at its flag, once a poll: 0.5 s by default.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1], bodies
    finally:
        server.shutdown()
        server.server_close()


def sender(
    policy: AddressPolicy, *, resolve_to: str | None = None, timeout: float = 5.0
) -> HttpWebhookSender:
    limits = FetchLimits(total_timeout=timeout, read_timeout=timeout)
    if resolve_to is None:
        fetcher = HttpFeedFetcher(policy=policy, limits=limits)
    else:
        fetcher = HttpFeedFetcher(policy=policy, limits=limits, resolve=lambda host, port: [resolve_to])
    return HttpWebhookSender(fetcher, timeout_seconds=timeout)


def test_a_2xx_is_delivered_with_the_exact_body() -> None:
    with answering(204) as (port, bodies):
        sent = sender(LOOPBACK).send(f"http://127.0.0.1:{port}/in", {"webhook-id": "msg_1"}, b'{"a":1}')
    assert sent.delivered and sent.status == 204
    assert bodies == [b'{"a":1}']


def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_a_request() -> None:
    with answering(200) as (port, bodies):
        sent = sender(AddressPolicy(), resolve_to="127.0.0.1").send(
            f"http://hooks.example:{port}/in", {}, b"{}"
        )
    assert not sent.delivered and sent.status is None
    assert sent.detail.startswith("refused_address")
    assert bodies == []


def test_a_redirect_is_a_failed_attempt_and_is_not_followed() -> None:
    with answering(307, Location="http://169.254.169.254/") as (port, bodies):
        sent = sender(LOOPBACK).send(f"http://127.0.0.1:{port}/in", {}, b"{}")
    assert not sent.delivered and sent.status == 307 and len(bodies) == 1


def test_a_receiver_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        sent = sender(LOOPBACK, timeout=0.3).send(f"http://127.0.0.1:{listener.getsockname()[1]}/", {}, b"{}")
    finally:
        listener.close()
    assert not sent.delivered and "timeout" in sent.detail


@pytest.mark.parametrize("header", ["Content-Length", "Host"])
def test_headers_the_sender_manages_cannot_be_forged(header: str) -> None:
    sent = sender(LOOPBACK).send("http://127.0.0.1:9/", {header: "1"}, b"{}")
    assert not sent.delivered and "invalid_request" in sent.detail
