"""Receiving a request body never stalls the other requests: gzip bombs against a real server.

Inflating, hashing and spooling a body run in worker threads (adapters_in/http/body.py,
ADR 0026), so while four clients post small gzip bodies that inflate far past
the body limit, `/healthz` on the same server keeps answering at once. With the
work on the event loop, each received chunk (tens of MiB once inflated) held every
other request for hundreds of milliseconds.
"""

from __future__ import annotations

import gzip
import json
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from functools import cache

import httpx2
import pytest
from support.service import Service, json_of

_MiB = 1 << 20
# The body limit is a setting: every bomb is refused once it has inflated past it, so each one
# costs the server the limit's worth of inflating, hashing and spooling. Doing that to 16 MiB still
# takes far longer than a poll may wait: with that work moved back onto the event loop, this test's polls
# waited hundreds of milliseconds (docs/ADR/0012-testability.md has the figures).
_LIMIT = 16 * _MiB


@cache
def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of about inflated / 1000 bytes that inflates to `inflated` zero bytes.

    Made of identical 16 MiB gzip members (`cat a.gz b.gz` is valid gzip), so it is
    built in milliseconds whatever its inflated size.
    """
    block = 16 * _MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = packer.compress(bytes(block)) + packer.flush()
    return member * (inflated // block)


def _attack(service: Service, key: str, stop: threading.Event, answers: list[int]) -> None:
    headers = {"X-API-Key": key, "Content-Encoding": "gzip", "Prefer": "respond-async"}
    client = service.client(**headers)  # not closed: the service's clients share one transport
    while not stop.is_set():
        response = client.post("/partner/ingest", content=gzip_bomb(1024 * _MiB))
        answers.append(response.status_code)


def _poll(client: httpx2.Client, until: Callable[[], bool]) -> list[float]:
    latencies = []
    while not until():
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    return latencies


@pytest.mark.slow  # at least eight bombs inflated to the limit, against a real server
def test_healthz_answers_at_once_while_four_gzip_bombs_are_received(serve: Callable[..., Service]) -> None:
    service = serve(max_body_bytes=_LIMIT, max_sync_bytes=_LIMIT, body_threads=2)
    admin = service.admin_key()
    _, key = service.partner(admin, rate_limit_per_minute=10_000)
    bomb = gzip_bomb(1024 * _MiB)
    assert len(bomb) < 2 * _MiB
    refused = service.client(
        **{"X-API-Key": key, "Content-Encoding": "gzip", "Prefer": "respond-async"}
    ).post("/partner/ingest", content=bomb)
    assert refused.status_code == 413 and json_of(refused)["error"] == "body_too_large", refused.text

    stop = threading.Event()
    answers: list[int] = []
    attackers = [threading.Thread(target=_attack, args=(service, key, stop, answers)) for _ in range(4)]
    poller = service.client()
    for attacker in attackers:
        attacker.start()
    started = time.monotonic()
    # Until eight bombs are refused, and for 1 s at least: some 50 polls or more, each waiting a
    # whole bomb's inflating (hundreds of ms) were that work on the loop; every further second
    # costs the server two cores of inflating and proves nothing more.
    during = _poll(poller, until=lambda: len(answers) >= 8 and time.monotonic() - started > 1)
    stop.set()
    for attacker in attackers:
        attacker.join(60)
    assert set(answers) == {413}, answers
    during.sort()
    median, slow = statistics.median(during), during[int(len(during) * 0.9)]
    shown = f"median {median * 1000:.1f} ms, 90th percentile {slow * 1000:.1f} ms of {len(during)}"
    print(shown)
    # Generous for a shared test machine: with the work on the loop, most polls waited for a whole bomb.
    assert median < 0.05 and slow < 0.15, shown


def test_a_body_of_several_gzip_members_inflates_to_their_concatenation(service: Service) -> None:
    admin = service.admin_key()
    _, key = service.partner(admin, default_version=1)
    items = [
        {"sku": f"M-{n:04d}", "name": f"Member {n}", "price": 1.5, "currency": "EUR", "quantity": n}
        for n in range(200)
    ]
    feed = json.dumps({"products": items}).encode()
    # Two members in one received chunk: the second starts right where the first ends.
    body = gzip.compress(feed[:1000]) + gzip.compress(feed[1000:])
    headers = {"X-API-Key": key, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    response = service.client(**headers).post("/partner/ingest", content=body)
    assert response.status_code == 200, response.text
    assert json_of(response)["counts"]["created"] == 200


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("", False), ("identity", False), ("GZIP", True), ("x-gzip", True)],
    ids=["empty", "identity", "upper case", "x-gzip"],
)
def test_every_content_encoding_the_api_document_lists_is_read(
    service: Service, coding: str, compress: bool
) -> None:
    # The document lists what the server reads (an empty value is an empty list of codings),
    # so the API fuzzer's schema-violating cases are the ones the server refuses.
    admin = service.admin_key()
    _, key = service.partner(admin, default_version=1)
    listed = service.client().get("/openapi.json").json()["paths"]["/partner/ingest"]["post"]["parameters"]
    (encoding,) = [p for p in listed if p["name"] == "Content-Encoding"]
    assert coding.lower() in encoding["schema"]["enum"]
    item = {"sku": "E-1", "name": "Encoded", "price": 1.5, "currency": "EUR", "quantity": 1}
    feed = json.dumps({"products": [item]}).encode()
    headers = {"X-API-Key": key, "Content-Encoding": coding, "Content-Type": "application/json"}
    response = service.client(**headers).post(
        "/partner/ingest", content=gzip.compress(feed) if compress else feed
    )
    assert response.status_code == 200, response.text
    assert json_of(response)["counts"]["created"] == 1
    refused = service.client(**{**headers, "Content-Encoding": "br"}).post("/partner/ingest", content=feed)
    assert refused.status_code == 415 and json_of(refused)["error"] == "unsupported_content_encoding"
