"""`POST /partner/ingest` is served by the request middleware itself (ADR 0045): its answers,
headers, metrics and access lines are those of every other route, errors included."""

from __future__ import annotations

from support.feeds import wait_for
from support.http import new_address
from support.service import LogCapture, Service, json_of


def test_the_feed_route_answers_counts_and_logs_like_any_route(service: Service, logs: LogCapture) -> None:
    _, key = service.partner(service.admin_key())
    client = service.client(new_address(), **{"X-API-Key": key})
    feed = service.client().get("/partner/contract/example", params={"format": "json", "version": 1}).content
    ok = client.post("/partner/ingest", content=feed, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200, ok.text
    refused = client.post("/partner/ingest", content=feed, headers={"Content-Type": "text/x-nothing"})
    unknown = client.post(
        "/partner/ingest?limt=5", content=feed, headers={"Content-Type": "application/json"}
    )
    wrong_method = client.get("/partner/ingest")
    assert (refused.status_code, json_of(refused)["error"]) == (415, "unsupported_media_type")
    assert (unknown.status_code, json_of(unknown)["error"]) == (400, "unknown_parameter")
    assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "POST")
    for answer in (ok, refused, unknown, wrong_method):
        assert answer.headers["X-Request-ID"] and answer.headers["Cache-Control"] == "no-store"
    for answer in (ok, refused):  # an unknown parameter is refused before the key is checked
        assert answer.headers["RateLimit"].startswith('"key";r=')
        assert answer.headers["RateLimit-Policy"] == '"key";q=60;w=60'
    assert ok.headers["Content-Location"] == f"/partner/imports/{json_of(ok)['feed_id']}"
    for answer in (refused, unknown):
        assert json_of(answer)["details"]["request_id"] == answer.headers["X-Request-ID"]

    def lines_so_far() -> list[dict[str, object]]:
        return logs.entries(logger="partner_ingest.http", message="request", route="/partner/ingest")

    # A line is written once its answer is sent, so the client may read the last answer first.
    wait_for(lambda: len(lines_so_far()) >= 4, 5, "the four access lines")
    lines = lines_so_far()
    assert [(e["method"], e["status"], e["outcome"], e["error"]) for e in lines] == [
        ("POST", 200, "ok", None),
        ("POST", 415, "rejected", "unsupported_media_type"),
        ("POST", 400, "rejected", "unknown_parameter"),
        ("GET", 405, "rejected", "method_not_allowed"),
    ]
    assert lines[0]["feed_status"] == "accepted" and lines[0]["key_id"] == key[5:18]
    metrics = service.client().get("/metrics").text
    for status in ("200", "415", "400"):
        assert (
            f'partner_ingest_http_requests_total{{method="POST",route="/partner/ingest",status="{status}"}} 1.0'
            in metrics
        )
    assert (
        'partner_ingest_http_requests_total{method="GET",route="/partner/ingest",status="405"} 1.0' in metrics
    )
