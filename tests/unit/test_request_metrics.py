"""The request counters: each label set counted on its own, however often it recurs."""

from __future__ import annotations

from partner_ingest.adapters_in.http.metrics import Metrics


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_every_answer_is_counted_under_its_route_method_and_status() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_request("/partner/ingest", "POST", 200, 0.01)
    metrics.observe_request("/partner/ingest", "POST", 422, 0.02)
    metrics.observe_request("/partner/imports", "GET", 200, 0.5)

    ingest_ok = {"route": "/partner/ingest", "method": "POST", "status": "200"}
    assert _sample(metrics, "partner_ingest_http_requests_total", **ingest_ok) == 3
    assert _sample(metrics, "partner_ingest_http_requests_total", **{**ingest_ok, "status": "422"}) == 1
    assert (
        _sample(
            metrics,
            "partner_ingest_http_requests_total",
            route="/partner/imports",
            method="GET",
            status="200",
        )
        == 1
    )
    duration = "partner_ingest_http_request_duration_seconds_count"
    assert _sample(metrics, duration, route="/partner/ingest", method="POST") == 4
    assert (
        _sample(
            metrics,
            "partner_ingest_http_request_duration_seconds_sum",
            route="/partner/imports",
            method="GET",
        )
        == 0.5
    )
