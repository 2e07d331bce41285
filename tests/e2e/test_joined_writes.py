"""On `serve`'s protocol an answer's head waits for its body only within a loop step (held_writes.py).

A real uvicorn server with the protocol `serve` uses, and a raw socket: a small answer
arrives whole, and a streamed answer's head arrives before the app has sent any of its body.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import Receive, Scope, Send

from partner_ingest.adapters_in.http.connections import ConnectionLimits, protocol

_released = threading.Event()


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/small":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
    while not _released.is_set():  # the client must see the head before this answer goes on
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"done"})


@contextmanager
def _server() -> Iterator[int]:
    limits = ConnectionLimits(header_timeout=10, keep_alive=5, max_connections=10)
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=0, http=protocol(limits), lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _read_until(conn: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = conn.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_a_small_answer_arrives_whole_and_a_streamed_head_arrives_before_its_body() -> None:
    _released.clear()
    with _server() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        small = _read_until(conn, b"\r\n\r\nok")
        assert small.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 2\r\n" in small
        conn.sendall(b"GET /streamed HTTP/1.1\r\nHost: x\r\n\r\n")
        head = _read_until(conn, b"\r\n\r\n")  # only the head: the app waits for us
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 4\r\n" in head
        _released.set()
        assert _read_until(conn, b"done") == b"done"
