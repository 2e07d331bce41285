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


def test_every_feed_is_counted_by_status_and_dry_run_and_its_items_by_outcome() -> None:
    from partner_ingest.domain.model.report import FeedStatus, IngestCounts, IngestReport

    metrics = Metrics()

    def report(status: FeedStatus, *, dry_run: bool = False, **counts: int) -> IngestReport:
        return IngestReport(
            feed_id="f", partner_id="p", format="json", version=2, status=status,
            counts=IngestCounts(**counts), dry_run=dry_run,
        )  # fmt: skip

    for _ in range(2):
        metrics.observe_report(report(FeedStatus.ACCEPTED, received=3, created=2, updated=1))
    metrics.observe_report(report(FeedStatus.PARTIAL, received=2, unchanged=1, rejected=1))
    metrics.observe_report(report(FeedStatus.ACCEPTED, dry_run=True, received=5, created=5))

    assert _sample(metrics, "partner_ingest_feeds_total", status="accepted", dry_run="false") == 2
    assert _sample(metrics, "partner_ingest_feeds_total", status="partial", dry_run="false") == 1
    assert _sample(metrics, "partner_ingest_feeds_total", status="accepted", dry_run="true") == 1
    counted = {
        o: _sample(metrics, "partner_ingest_items_total", outcome=o)
        for o in ("created", "updated", "unchanged", "rejected")
    }
    assert counted == {"created": 4, "updated": 2, "unchanged": 1, "rejected": 1}  # a dry run's items: none
    # An outcome never counted is no sample at all, as before its child was kept.
    fresh = Metrics()
    fresh.observe_report(report(FeedStatus.ACCEPTED, received=1, created=1))
    assert fresh.registry.get_sample_value("partner_ingest_items_total", {"outcome": "rejected"}) is None
