"""The request middleware's header work: reading a request's headers, adding ours to an answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

from partner_ingest.adapters_in.http._context import RequestInfo, request_header
from partner_ingest.adapters_in.http.middleware import _add_headers
from partner_ingest.ports.rate_limit import RateDecision


def _request(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def test_a_header_reads_as_starlette_reads_it_the_first_of_repeats_and_none_when_absent() -> None:
    request = _request([(b"x-atomic", b"true"), (b"x-atomic", b"false"), (b"x-api-key", b"caf\xe9")])
    for name in ("X-Atomic", "x-api-key", "X-Feed-Version"):
        assert request_header(request, name) == request.headers.get(name)
    assert request_header(request, "X-ATOMIC") == "true"
    assert request_header(request, "x-feed-version") is None


def _info(rate: RateDecision | None = None) -> RequestInfo:
    return RequestInfo(request_id="req-12345678", client="127.0.0.1", rate=rate)


def test_our_headers_are_appended_in_order_and_an_answers_own_cache_control_is_kept() -> None:
    rate = RateDecision(allowed=True, limit=60, remaining=59, reset_after=1.2)
    message: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json")],
    }
    _add_headers(message, _info(rate))
    assert message["headers"] == [
        (b"content-type", b"application/json"),
        (b"x-request-id", b"req-12345678"),
        (b"cache-control", b"no-store"),
        (b"ratelimit-policy", b'"key";q=60;w=60'),
        (b"ratelimit", b'"key";r=59;t=2'),
    ]
    cached: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"cache-control", b"max-age=60")],
    }
    _add_headers(cached, _info())
    assert cached["headers"] == [(b"cache-control", b"max-age=60"), (b"x-request-id", b"req-12345678")]


def test_an_answer_carrying_one_of_our_headers_has_it_replaced_not_doubled() -> None:
    rate = RateDecision(allowed=True, limit=60, remaining=3, reset_after=5.0)
    message: Message = {
        "type": "http.response.start",
        "status": 429,
        "headers": [(b"ratelimit", b"stale"), (b"x-request-id", b"x")],
    }
    _add_headers(message, _info(rate))
    headers: list[tuple[bytes, bytes]] = message["headers"]
    assert [name for name, _ in headers].count(b"ratelimit") == 1
    assert dict(headers)[b"ratelimit"] == b'"key";r=3;t=5'
    assert dict(headers)[b"x-request-id"] == b"req-12345678"
    assert dict(headers)[b"cache-control"] == b"no-store"
