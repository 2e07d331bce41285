"""Completion webhooks end to end: a real receiver on loopback verifies every signature with
the README's example itself, a delivery answered 500 is retried until the receiver answers 200,
and a receiver that keeps failing gets its webhook disabled, audited and shown to admins.

Loopback is reachable only because these servers allow it (`fetch_allow_networks`, the
setting the SSRF tests use); without it, the same URL is refused when it is configured.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from support.feeds import JSONL, jsonl_feed
from support.service import Service

from partner_ingest.adapters_in.worker import deliver_webhooks_once


def _readme_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The README's receiver check, exactly as printed there (standard library only)."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    match = re.search(r"<!-- readme-snippet: webhook-verify -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its receiver example"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)
    found: Callable[[str, dict[str, str], bytes], bool] = namespace["verify"]
    return found


verify = _readme_verify()


@attrs.define
class Receiver:
    """A partner's webhook receiver: answers the scripted statuses in turn (then 200), records every POST."""

    url: str
    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = attrs.Factory(list)


@contextmanager
def receiver(*statuses: int) -> Iterator[Receiver]:
    state = Receiver("", list(statuses))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for the loop to look at its flag, once a poll: 0.5 s by default.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/catalog"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def deliver_until(service: Service, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run delivery attempts (as the worker does between jobs) until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the deliveries did not end in time"
        if deliver_webhooks_once(service.app) is None:
            time.sleep(0.02)


@pytest.fixture
def hooked(serve: Callable[..., Service]) -> Service:
    return serve(
        fetch_allow_networks="127.0.0.0/8",
        webhook_retry_base_seconds=0.05,
        webhook_disable_after_failures=3,
    )


def test_an_import_is_posted_signed_and_a_500_is_retried_until_the_receiver_takes_it(hooked: Service) -> None:
    admin = hooked.admin_key()
    partner_id, key = hooked.partner(admin)
    client = hooked.client(**{"X-API-Key": key})
    with receiver(500, 200) as rx:
        created = client.put("/partner/webhook", json={"url": rx.url})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")
        shown = client.get("/partner/webhook").json()
        assert "secret" not in shown and shown["enabled"] is True
        assert secret not in hooked.audit_text()

        feed = client.post("/partner/ingest", content=jsonl_feed(3), headers={"Content-Type": JSONL})
        assert feed.status_code == 200, feed.text
        deliver_until(hooked, lambda: len(rx.received) == 2)

    first, second = rx.received
    assert first[0]["webhook-id"] == second[0]["webhook-id"]  # a retry is the same message
    assert first[1] == second[1]
    for headers, body in rx.received:
        assert verify(secret, headers, body)
        assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
    event = json.loads(second[1])
    assert event["type"] == "import.completed"
    assert event["data"]["feed_id"] == feed.json()["feed_id"]
    assert event["data"]["status"] == "accepted"
    assert event["data"]["counts"]["created"] == 3

    log = client.get("/partner/webhook/deliveries").json()["deliveries"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [("delivered", 2, 200)]
    admin_log = hooked.client(**{"X-API-Key": admin}).get(f"/admin/partners/{partner_id}/webhook/deliveries")
    assert admin_log.json()["deliveries"][0]["id"] == log[0]["id"]


def test_a_receiver_that_keeps_failing_gets_the_webhook_disabled_audited_and_shown_to_admins(
    hooked: Service,
) -> None:
    admin = hooked.admin_key()
    partner_id, key = hooked.partner(admin)
    client = hooked.client(**{"X-API-Key": key})
    operator = hooked.client(**{"X-API-Key": admin})
    with receiver(*[500] * 10) as rx:
        assert client.put("/partner/webhook", json={"url": rx.url}).status_code == 201
        test = client.post("/partner/webhook/test")
        assert test.status_code == 202 and test.json()["event"] == "webhook.test"

        deliver_until(hooked, lambda: len(rx.received) == 3)
        hooks = operator.get("/admin/webhooks").json()["webhooks"]
        mine = next(h for h in hooks if h["partner_id"] == partner_id)
        assert mine["enabled"] is False
        assert mine["consecutive_failures"] == 3
        assert "3 delivery attempts in a row failed" in mine["disabled_reason"]
        assert [e["outcome"] for e in hooked.audit("action = 'webhook.disabled'")] == ["failed"]

        # Disabled: the queued delivery gives up without a request, and nothing new is queued.
        deliver_until(hooked, lambda: deliver_webhooks_once(hooked.app) is None)
        assert len(rx.received) == 3
        assert client.get("/partner/webhook/deliveries").json()["deliveries"][0]["status"] == "failed"
        refused = client.post("/partner/webhook/test")
        assert refused.status_code == 409 and refused.json()["error"] == "webhook_disabled"
        client.post("/partner/ingest", content=jsonl_feed(1), headers={"Content-Type": JSONL})
        assert len(client.get("/partner/webhook/deliveries").json()["deliveries"]) == 1

        # Set again by an admin: enabled, the failure run forgotten, the secret unchanged.
        again = operator.put(f"/admin/partners/{partner_id}/webhook", json={"url": rx.url})
        assert again.status_code == 200 and "secret" not in again.json()
        assert again.json()["enabled"] is True and again.json()["consecutive_failures"] == 0


def test_a_rotated_secret_signs_beside_the_new_one_during_the_overlap(hooked: Service) -> None:
    _, key = hooked.partner(hooked.admin_key())
    client = hooked.client(**{"X-API-Key": key})
    with receiver() as rx:
        old = client.put("/partner/webhook", json={"url": rx.url}).json()["secret"]
        rotated = client.post("/partner/webhook/rotate")
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new != old and rotated.json()["previous_secret_valid_until"] is not None
        client.post("/partner/webhook/test")
        deliver_until(hooked, lambda: len(rx.received) == 1)
    headers, body = rx.received[0]
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(old, headers, body) and verify(new, headers, body)


def test_a_webhook_on_the_platforms_own_network_is_refused_when_it_is_set(service: Service) -> None:
    _, key = service.partner(service.admin_key())
    client = service.client(**{"X-API-Key": key})
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "ftp://x.example/",
    ):
        refused = client.put("/partner/webhook", json={"url": url})
        assert refused.status_code == 422, url
        assert refused.json()["error"] == "invalid_webhook"
        assert "url" in refused.json()["details"]["problems"]
    assert client.get("/partner/webhook").status_code == 404
