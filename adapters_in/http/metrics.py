"""Prometheus metrics of one app: requests, feed items by outcome, rate-limit denials
(and, through collectors.py, the job queue and partner fetches).

Each `create_app` gets its own registry (never prometheus-client's global one),
so two apps in one process (tests, an embedder mounting two instances) never
collide. Labels are bounded: the route *template*, never the raw path, and no
partner id (cardinality grows with partners; the audit trail has them).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import Collector

from partner_ingest.domain.model.report import IngestReport

__all__ = ["Metrics"]

_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The collectors, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        r = self.registry
        self.requests = Counter(
            "partner_ingest_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "partner_ingest_http_request_duration_seconds",
            "Time from request to response, by route template and method.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.items = Counter(
            "partner_ingest_items",
            "Feed items by outcome (created, updated, unchanged, rejected), real ingests only.",
            ["outcome"],
            registry=r,
        )
        self.feeds = Counter(
            "partner_ingest_feeds",
            "Feeds by status (accepted, partial, rejected) and whether it was a dry run.",
            ["status", "dry_run"],
            registry=r,
        )
        self.rate_limited = Counter(
            "partner_ingest_rate_limit_denials",
            "Requests refused with 429, by reason (rate_limited: a key over its quota; "
            "too_many_failed_attempts: a blocked client address).",
            ["reason"],
            registry=r,
        )
        self._feed_children: dict[tuple[object, bool], Counter] = {}
        self._item_children: dict[str, Counter] = {}
        """Made on first use: a label set appears in the exposition once it is counted."""
        self.degraded = Counter(
            "partner_ingest_rate_limit_degraded",
            "Requests let through because the shared rate-limit store was unreachable (ADR 0015).",
            registry=r,
        )
        # The job queue depth and fetch health are read at scrape time by the collectors
        # of collectors.py, which create_app registers here with `add_collector`.

    def add_collector(self, collector: Collector) -> None:
        """Register one more collector (e.g. the job queue depth) in this app's registry."""
        self.registry.register(collector)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request."""
        # The children are looked up once per label set: `labels()` checks and joins its
        # arguments under a lock on every call, and every request made two of those calls.
        # (The label sets are the ones prometheus_client keeps anyway.)
        found = self._request_children.get((route, method, status))
        if found is None:
            found = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route, method),
            )
            self._request_children[(route, method, status)] = found
        found[0].inc()
        found[1].observe(seconds)

    def observe_report(self, report: IngestReport) -> None:
        """One processed feed; items are counted only when something was (or would be) stored."""
        # Children looked up once per label set, as for the requests (`observe_request`).
        feeds = self._feed_children.get((report.status, report.dry_run))
        if feeds is None:
            feeds = self.feeds.labels(status=str(report.status), dry_run=str(report.dry_run).lower())
            self._feed_children[(report.status, report.dry_run)] = feeds
        feeds.inc()
        if report.dry_run:
            return
        counts = report.counts
        for outcome, n in (
            ("created", counts.created),
            ("updated", counts.updated),
            ("unchanged", counts.unchanged),
            ("rejected", counts.rejected),
        ):
            if n:
                child = self._item_children.get(outcome)
                if child is None:
                    child = self._item_children[outcome] = self.items.labels(outcome=outcome)
                child.inc(n)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
