"""Test support for jobs and pulls: feeds of any size, a partner's feed server, bounded waits.

- `jsonl_feed(n)` is a valid JSON Lines feed (contract v1) of `n` distinct items;
- `FeedServer` is a partner's endpoint on loopback: each path answers a fixed
  status and body, optionally only to requests carrying the expected headers,
  and records what every request carried; a path may hold its answer until
  the test opens its gate (an endpoint slow for as long as the test needs);
- `wait_for` polls a condition with a deadline, for tests whose point is a real
  background worker or scheduler (anything else uses `process_next_job_once`).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import attrs

__all__ = ["FeedServer", "Reply", "feed_server", "jsonl_feed", "wait_for"]

JSONL = "application/x-ndjson"


def jsonl_feed(items: int, *, first: int = 0, prefix: str = "SKU") -> bytes:
    """`items` valid products, one per line, SKUs `<prefix>-<n>` from `first` on."""
    return b"".join(
        (
            f'{{"sku": "{prefix}-{n:08d}", "name": "Item {n}", "price": {n % 997}.50, '
            f'"currency": "EUR", "quantity": {n % 13}}}\n'
        ).encode()
        for n in range(first, first + items)
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, *, every: float = 0.05) -> None:
    """Return once `predicate()` holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@attrs.frozen
class Reply:
    """What a path of the feed server answers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    requires: Mapping[str, str] = attrs.field(factory=dict)
    """Headers a request must carry; otherwise it is answered 401."""
    gate: threading.Event | None = attrs.field(default=None, eq=False)
    """When set, the answer waits until the event is set (at most a minute)."""


@attrs.define
class FeedServer:
    """A partner's feed server on 127.0.0.1; `requests` records (path, headers) of every GET."""

    base_url: str
    replies: dict[str, Reply]
    requests: list[tuple[str, dict[str, str]]] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def url(self, path: str) -> str:
        """The absolute URL of one of its paths."""
        return self.base_url + path

    def hits(self, path: str) -> int:
        """How many requests for `path` arrived so far."""
        with self.lock:
            return sum(1 for seen, _ in self.requests if seen == path)


def _handler(server: FeedServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            headers = dict(self.headers.items())
            with server.lock:
                server.requests.append((self.path, headers))
            reply = server.replies.get(self.path, Reply(404, b"no such feed", "text/plain"))
            if any(self.headers.get(name) != value for name, value in reply.requires.items()):
                reply = Reply(401, b"who are you?", "text/plain")
            if reply.gate is not None:
                reply.gate.wait(60)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    return Handler


@contextmanager
def feed_server(replies: Mapping[str, Reply]) -> Iterator[FeedServer]:
    """Serve `replies` (path -> Reply) from a thread on a free loopback port."""
    server = FeedServer(base_url="", replies=dict(replies))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # shutdown() waits for the loop to look at its flag, once a poll: 0.5 s by default.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="feed-server", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
