"""The parts of the wiring (wiring.py) that reach partners' servers (ADR 0032): scheduled pulls
behind their circuit breaker (ADR 0014) and completion webhooks (ADR 0034), each built on its
first use.

Invariant: both go out through one address policy (`Ports.addresses`, the SSRF guard of
ADR 0021) and pinned connections; the HTTP fetcher and the webhook sender are built on their
first use, so wiring opens no connection and an embedder's fetcher or sender replaces the HTTP
side alone (the breaker and the delivery rules stay).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partner_ingest.domain.model.addresses import AddressPolicy
    from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
    from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules, RotateCredentials
    from partner_ingest.domain.use_cases.pull_feeds import PullDueFeeds
    from partner_ingest.domain.use_cases.webhooks import DeliverWebhooks, ManageWebhooks, WebhookRules
    from partner_ingest.ports import Clock, FeedFetcher
    from partner_ingest.ports.cron import CronRules
    from partner_ingest.ports.webhooks import WebhookSender

    from .settings import Settings
    from .wiring import Wiring

__all__ = [
    "cron",
    "deliver_webhooks",
    "fetch_health",
    "fetcher",
    "pull_feeds",
    "rotate_credentials",
    "schedules",
    "webhook_rules",
    "webhooks",
]


def fetcher(w: Wiring) -> FeedFetcher:
    """The fetcher handed in, else the HTTP one (built on the first pull), behind the circuit
    breaker either way (ADR 0014)."""
    from partner_ingest.adapters_out.fetcher import CircuitBreakerFetcher, DeferredFetcher
    from partner_ingest.domain.model.circuits import BreakerPolicy

    ports, settings = w.ports, w.ports.settings
    inner = w.fetcher_given
    if inner is None:
        inner = DeferredFetcher(lambda: _http_fetcher(settings, ports.addresses, ports.clock))
    return CircuitBreakerFetcher(
        inner,
        ports.uow,
        ports.clock,
        BreakerPolicy(
            failure_threshold=settings.breaker_failures,
            reset_after=timedelta(seconds=settings.breaker_reset_seconds),
            # A probe cannot take longer than a fetch may; the margin covers the store's round trips.
            probe_lease=timedelta(seconds=settings.fetch_timeout_seconds + 60),
        ),
    )


def cron(_: Wiring) -> CronRules:
    """Schedules' cron expressions (cronsim is imported when one is first read)."""
    from partner_ingest.adapters_out.cron import CronsimRules

    return CronsimRules()


def pull_feeds(w: Wiring) -> PullDueFeeds:
    from partner_ingest.domain.use_cases.pull_feeds import AnomalyRule, PullDueFeeds

    ports = w.ports
    return PullDueFeeds(
        ports.uow,
        ports.audit,
        w.fetcher,
        ports.vault,
        w.submit_job,
        ports.formats,
        ports.clock,
        cron=w.cron,
        anomaly=AnomalyRule(per_hour=ports.settings.fetch_anomaly_per_hour),
    )


def schedules(w: Wiring) -> ManageSchedules:
    from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules

    ports = w.ports
    return ManageSchedules(
        ports.uow, ports.formats, ports.clock, ports.ids, cron=w.cron, addresses=ports.addresses
    )


def rotate_credentials(w: Wiring) -> RotateCredentials:
    from partner_ingest.domain.use_cases.manage_schedules import RotateCredentials

    return RotateCredentials(w.ports.uow, w.ports.vault, w.ports.clock)


def fetch_health(w: Wiring) -> ReadFetchHealth:
    from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth

    return ReadFetchHealth(w.ports.uow, w.ports.audit, w.ports.clock)


def webhook_rules(w: Wiring) -> WebhookRules:
    """How deliveries are retried, leased and given up on, and secrets overlap (ADR 0034)."""
    from partner_ingest.domain.model.webhooks import DeliveryBackoff
    from partner_ingest.domain.use_cases.webhooks import WebhookRules

    settings = w.ports.settings
    return WebhookRules(
        disable_after=settings.webhook_disable_after_failures,
        overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        backoff=DeliveryBackoff(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=max(3600.0, settings.webhook_retry_base_seconds)),
            window=timedelta(seconds=settings.webhook_retry_window_seconds),
        ),
        lease=timedelta(seconds=settings.webhook_timeout_seconds + 60),
    )


def webhooks(w: Wiring) -> ManageWebhooks:
    """Managing endpoints (ADR 0034)."""
    from partner_ingest.domain.use_cases.webhooks import ManageWebhooks

    ports = w.ports
    return ManageWebhooks(
        ports.uow,
        ports.vault,
        ports.clock,
        w.events,
        addresses=ports.addresses,
        rules=w.webhook_rules,
        random_bytes=ports.random_bytes,
    )


def deliver_webhooks(w: Wiring) -> DeliverWebhooks:
    """Delivering what was queued: through the sender handed in, else the HTTP one (built on
    the first delivery)."""
    from partner_ingest.adapters_out.fetcher import DeferredWebhookSender
    from partner_ingest.domain.use_cases.webhooks import DeliverWebhooks

    ports = w.ports
    sender = w.webhook_sender
    if sender is None:
        sender = DeferredWebhookSender(
            lambda: _http_webhook_sender(ports.settings, ports.addresses, ports.clock)
        )
    return DeliverWebhooks(ports.uow, sender, ports.vault, ports.clock, ports.ids, rules=w.webhook_rules)


def _http_webhook_sender(settings: Settings, addresses: AddressPolicy, clock: Clock) -> WebhookSender:
    """Deliveries through the pulls' address policy and pinned connections (ADR 0034)."""
    from partner_ingest.adapters_out.fetcher.http_fetcher import FetchLimits, HttpFeedFetcher
    from partner_ingest.adapters_out.fetcher.webhook_sender import HttpWebhookSender

    return HttpWebhookSender(
        HttpFeedFetcher(
            policy=addresses,
            limits=FetchLimits(
                connect_timeout=min(5.0, settings.webhook_timeout_seconds),
                read_timeout=settings.webhook_timeout_seconds,
                total_timeout=settings.webhook_timeout_seconds,
            ),
            clock=clock,
            user_agent="partner-catalog-ingest (webhook)",
        ),
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def _http_fetcher(settings: Settings, addresses: AddressPolicy, clock: Clock) -> FeedFetcher:
    """The HTTP fetcher the settings describe (built on the first pull: see DeferredFetcher)."""
    from partner_ingest.adapters_out.fetcher.http_fetcher import FetchLimits, HttpFeedFetcher

    return HttpFeedFetcher(
        policy=addresses,
        limits=FetchLimits(
            total_timeout=settings.fetch_timeout_seconds,
            read_timeout=min(30.0, settings.fetch_timeout_seconds),
            max_bytes=settings.fetch_max_bytes,
            max_decoded_bytes=settings.fetch_max_bytes,
        ),
        clock=clock,
    )
