"""Prometheus collectors read at scrape time: the job queue, partner fetches, the audit chain.

Read when /metrics is scraped, through the use cases, rather than gauges set
on every change: the queue is shared by every process (HTTP instances,
workers, schedulers), so only the database knows its depth.

- `partner_ingest_jobs{status}`: jobs per status (queued, running, succeeded,
  dead, cancelled); scale workers on `queued`, alert on `dead`.
- `partner_ingest_job_bodies` and `partner_ingest_job_body_bytes`: the feed
  bodies the store keeps (every unfinished job's, and finished ones within
  their retention) and their size: the space jobs take.
- `partner_ingest_fetch_anomalies`: `fetch_anomaly` audit entries of the last
  hour (one per partner flagged, see `PullDueFeeds`).
- `partner_ingest_fetch_circuits{state}`: partner feeds per circuit state
  (closed, open, half_open), as the database holds them for every process (ADR 0014).

- `partner_ingest_audit_chain_ok` (1 every link holds, 0 a link is broken),
  `partner_ingest_audit_chain_entries` (entries verified) and
  `partner_ingest_audit_chain_verified_timestamp_seconds`: the audit chain's last walk,
  renewed at most every `PARTNER_INGEST_AUDIT_VERIFY_SECONDS` (ADR 0028). Alert on ok == 0,
  and on a verified time that stops moving.

- `partner_ingest_open_rejections{partner}`: rejected items no later import
  resolved yet (ADR 0033), so an operator sees which partner needs a hand.

Labels stay bounded: statuses and states, and the partner only where it is the
point (open rejections: partners are created by admins, so they are few); never
an endpoint (the admin API has those: /admin/jobs, /admin/circuits). A scrape that cannot read
the database leaves the series out and logs why, rather than failing /metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model.jobs import JobStatus

__all__ = ["AuditChainCollector", "DiagnosticsCollector", "FetchHealthCollector", "JobQueueCollector"]

log: Final = logging.getLogger("partner_ingest.http")


def _jobs_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("partner_ingest_jobs", "Jobs in the queue by status.", labels=["status"])


def _bodies_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "partner_ingest_job_bodies",
            "Feed bodies of jobs the store keeps (unfinished, or within retention).",
        ),
        GaugeMetricFamily(
            "partner_ingest_job_body_bytes", "Bytes of the feed bodies of jobs the store keeps."
        ),
    )


def _anomalies_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "partner_ingest_fetch_anomalies",
        "fetch_anomaly audit entries of the last hour (partners fetched far too often).",
    )


def _circuits_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "partner_ingest_fetch_circuits",
        "Partner feeds by circuit-breaker state (shared by every process).",
        labels=["state"],
    )


class JobQueueCollector(Collector):
    """`partner_ingest_jobs{status}` from `QueryJobs.queue_depth`; the stored bodies from
    `PurgeJobBodies.stored`."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        # Without this, registering would call collect() and read the database at once.
        yield _jobs_family()
        yield from _bodies_families()

    def collect(self) -> Iterator[Metric]:
        """Read at scrape time."""
        try:
            depth = self._app.jobs.queue_depth()
        except Exception:
            log.warning("metrics: could not read the job queue", exc_info=True)
            return
        family = _jobs_family()
        for status in JobStatus:
            family.add_metric([str(status)], depth.get(str(status), 0))
        yield family
        try:
            stored = self._app.job_bodies.stored()
        except Exception:
            log.warning("metrics: could not read the stored job bodies", exc_info=True)
            return
        count, size = _bodies_families()
        count.add_metric([], stored.bodies)
        size.add_metric([], stored.total_bytes)
        yield count
        yield size


class FetchHealthCollector(Collector):
    """`partner_ingest_fetch_anomalies` and `partner_ingest_fetch_circuits{state}`."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        yield _anomalies_family()
        yield _circuits_family()

    def collect(self) -> Iterator[Metric]:
        """Read at scrape time."""
        health = self._app.fetch_health
        circuits = _circuits_family()
        for state, count in health.circuit_counts().items():
            circuits.add_metric([str(state)], count)
        yield circuits
        try:
            anomalies = health.recent_anomalies()
        except Exception:
            log.warning("metrics: could not read fetch anomalies", exc_info=True)
            return
        family = _anomalies_family()
        family.add_metric([], anomalies)
        yield family


def _chain_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "partner_ingest_audit_chain_ok",
            "1 when every link of the audit chain held at the last verification, 0 when one is broken.",
        ),
        GaugeMetricFamily(
            "partner_ingest_audit_chain_entries",
            "Audit entries verified at the last verification (up to the first broken link).",
        ),
        GaugeMetricFamily(
            "partner_ingest_audit_chain_verified_timestamp_seconds",
            "When the audit chain was last verified (Unix time).",
        ),
    )


class AuditChainCollector(Collector):
    """The audit chain's last verdict (`CachedAuditVerdict`: a walk at most once per interval)."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        yield from _chain_families()

    def collect(self) -> Iterator[Metric]:
        """Read at scrape time, walked again only when the cached verdict is due."""
        try:
            timed = self._app.audit_verdict()
        except Exception:
            log.warning("metrics: could not verify the audit chain", exc_info=True)
            return
        ok, entries, verified = _chain_families()
        ok.add_metric([], 1 if timed.verdict.ok else 0)
        entries.add_metric([], timed.verdict.entries)
        verified.add_metric([], timed.at.timestamp())
        yield ok
        yield entries
        yield verified


def _open_rejections_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "partner_ingest_open_rejections",
        "Rejected items no later import accepted yet, per partner.",
        labels=["partner"],
    )


class DiagnosticsCollector(Collector):
    """`partner_ingest_open_rejections{partner}` from `ReadDiagnostics.open_items`."""

    def __init__(self, app: Application) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        yield _open_rejections_family()

    def collect(self) -> Iterator[Metric]:
        """Read at scrape time."""
        try:
            found = self._app.diagnostics.open_items()
        except Exception:
            log.warning("metrics: could not read the open rejections", exc_info=True)
            return
        family = _open_rejections_family()
        for partner, count in sorted(found.items()):
            family.add_metric([partner], count)
        yield family
