"""A request the HTTP parser refuses gets the API's error shape too, from a real server.

uvicorn answers such a request itself, before the app sees it (see
adapters_in/http/malformed_requests.py); a scanner's garbage or a broken client
then reads `{"error": "malformed_request", ...}` like every other 4xx, not text.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
from support.http import running_server

from partner_ingest.adapters_in.bootstrap import in_memory


def _raw(base: str, request: bytes) -> bytes:
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",  # no method, path or version
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",  # a header line without a colon
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",  # a NUL in the target
    ],
)
def test_a_request_the_server_cannot_parse_gets_the_error_shape(request_bytes: bytes) -> None:
    app, _, _ = in_memory()
    with running_server(app) as base:
        answer = _raw(base, request_bytes)
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
        assert status_line.startswith("HTTP/1.1 400"), answer
        assert headers["content-type"] == "application/json"
        document = json.loads(body)
        assert document["error"] == "malformed_request" and document["details"]["message"]
        assert set(document) == {"error", "details"}
