"""`wire`'s steps for the areas that reach partners' servers (ADR 0032): scheduled pulls behind
their circuit breaker (ADR 0014) and completion webhooks (ADR 0034).

Invariant: both go out through one address policy (`Ports.addresses`, the SSRF guard of
ADR 0021) and pinned connections; the HTTP fetcher and the webhook sender are built on their
first use, so wiring opens no connection and an embedder's fetcher or sender replaces the HTTP
side alone (the breaker and the delivery rules stay).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from partner_ingest.adapters_out.cron import CronsimRules
from partner_ingest.adapters_out.fetcher import (
    AddressPolicy,
    CircuitBreakerFetcher,
    DeferredFetcher,
    DeferredWebhookSender,
)
from partner_ingest.domain.model.circuits import BreakerPolicy
from partner_ingest.domain.model.webhooks import DeliveryBackoff
from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
from partner_ingest.domain.use_cases.jobs import SubmitFeedJob
from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules, RotateCredentials
from partner_ingest.domain.use_cases.pull_feeds import AnomalyRule, PullDueFeeds
from partner_ingest.domain.use_cases.webhooks import DeliverWebhooks, ManageWebhooks, WebhookRules
from partner_ingest.ports import Clock, FeedFetcher
from partner_ingest.ports.webhooks import WebhookSender

from .default_ports import Ports
from .settings import Settings

__all__ = ["PullUseCases", "WebhookUseCases", "pull_use_cases", "webhook_use_cases"]


class PullUseCases(TypedDict):
    fetcher: FeedFetcher
    pull_feeds: PullDueFeeds
    schedules: ManageSchedules
    rotate_credentials: RotateCredentials
    fetch_health: ReadFetchHealth


def pull_use_cases(ports: Ports, fetcher: FeedFetcher | None, submit_job: SubmitFeedJob) -> PullUseCases:
    """Scheduled pulls: the fetcher behind its circuit breaker (ADR 0014), the schedules, the
    credentials they fetch with, and their health."""
    uow, clock, settings = ports.uow, ports.clock, ports.settings
    if fetcher is None:
        fetcher = DeferredFetcher(lambda: _http_fetcher(settings, ports.addresses, clock))
    breaker = CircuitBreakerFetcher(
        fetcher,
        uow,
        clock,
        BreakerPolicy(
            failure_threshold=settings.breaker_failures,
            reset_after=timedelta(seconds=settings.breaker_reset_seconds),
            # A probe cannot take longer than a fetch may; the margin covers the store's round trips.
            probe_lease=timedelta(seconds=settings.fetch_timeout_seconds + 60),
        ),
    )
    cron = CronsimRules()
    anomaly = AnomalyRule(per_hour=settings.fetch_anomaly_per_hour)
    return PullUseCases(
        fetcher=breaker,
        pull_feeds=PullDueFeeds(
            uow,
            ports.audit,
            breaker,
            ports.vault,
            submit_job,
            ports.formats,
            clock,
            cron=cron,
            anomaly=anomaly,
        ),
        schedules=ManageSchedules(uow, ports.formats, clock, ports.ids, cron=cron, addresses=ports.addresses),
        rotate_credentials=RotateCredentials(uow, ports.vault, clock),
        fetch_health=ReadFetchHealth(uow, ports.audit, clock),
    )


class WebhookUseCases(TypedDict):
    webhooks: ManageWebhooks
    deliver_webhooks: DeliverWebhooks


def webhook_use_cases(ports: Ports, sender: WebhookSender | None) -> WebhookUseCases:
    """Completion webhooks (ADR 0034): managing endpoints, and delivering what was queued."""
    uow, clock, settings = ports.uow, ports.clock, ports.settings
    rules = WebhookRules(
        disable_after=settings.webhook_disable_after_failures,
        overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        backoff=DeliveryBackoff(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=max(3600.0, settings.webhook_retry_base_seconds)),
            window=timedelta(seconds=settings.webhook_retry_window_seconds),
        ),
        lease=timedelta(seconds=settings.webhook_timeout_seconds + 60),
    )
    if sender is None:
        sender = DeferredWebhookSender(lambda: _http_webhook_sender(settings, ports.addresses, clock))
    return WebhookUseCases(
        webhooks=ManageWebhooks(
            uow,
            ports.vault,
            clock,
            ports.events,
            addresses=ports.addresses,
            rules=rules,
            random_bytes=ports.random_bytes,
        ),
        deliver_webhooks=DeliverWebhooks(uow, sender, ports.vault, clock, ports.ids, rules=rules),
    )


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
