"""`wire`'s steps (ADR 0032): the use cases of each area of the service, built over ports
already chosen. bootstrap.py chooses the ports (`build`) and puts these together (`wire`);
the areas that reach partners' servers (scheduled pulls, webhooks) are in wiring_outbound.py.

Invariant: each step takes the shared `Ports` (default_ports.py) and returns its area's use cases under the
names of `Application`'s fields (a TypedDict each, so the type checker holds every name and
type to the field it fills); nothing here opens a connection, starts a thread or reads the
environment: the HTTP fetcher and the webhook sender are built on their first use.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any, TypedDict

from partner_ingest.adapters_out.spool import FileRejectionSpools
from partner_ingest.domain.model.jobs import BodyRetention
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.retirement import RetirementGuard
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, SettleHeldFeeds, ValidateFeed
from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits
from partner_ingest.domain.use_cases.contract_usage import ReadContractUsage
from partner_ingest.domain.use_cases.diagnostics import PurgeDiagnostics, ReadDiagnostics
from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies
from partner_ingest.domain.use_cases.jobs import ProcessNextJob, QueryJobs, SubmitFeedJob
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.manage_partners import ManagePartners
from partner_ingest.domain.use_cases.product_cache import ProductReadCache
from partner_ingest.domain.use_cases.query_audit import QueryAudit
from partner_ingest.domain.use_cases.read_changes import ReadChanges
from partner_ingest.domain.use_cases.read_imports import ReadImports, ReadProducts
from partner_ingest.domain.use_cases.replay import ReplayImport
from partner_ingest.domain.use_cases.retention import PurgeWebhookDeliveries
from partner_ingest.domain.use_cases.retired_products import PurgeChanges, PurgeRetiredProducts
from partner_ingest.domain.use_cases.verify_audit import CachedAuditVerdict, VerifyAuditChain
from partner_ingest.domain.use_cases.web_sessions import WebSessions
from partner_ingest.ports import (
    FeedParsing,
    RateLimiter,
    UnitOfWorkFactory,
)

from .default_ports import Ports

__all__ = [
    "AccessUseCases",
    "AdminUseCases",
    "FeedUseCases",
    "JobUseCases",
    "access_use_cases",
    "admin_use_cases",
    "feed_use_cases",
    "ingests",
    "job_use_cases",
]


def ingests(
    ports: Ports, parsing: FeedParsing | None, grouped_uow: UnitOfWorkFactory | None
) -> tuple[IngestFeed, IngestFeed | None]:
    """The ingest of jobs and CLI feeds, and the grouped one of feeds answered while their
    sender waits (None without group commit, ADR 0039): one ingest's parts, shared."""
    settings = ports.settings
    parts: dict[str, Any] = {
        "limits": ports.limits,
        "parsing": parsing,
        "fast_validator": settings.fast_validator,
        "steps": [ports.events],
        "lifecycle": ports.lifecycle,
        "spools": FileRejectionSpools(),
        "guard": RetirementGuard(settings.retire_max_share, settings.retire_max_count),
    }
    ingest = IngestFeed(ports.uow, ports.formats, ports.clock, ports.ids, **parts)
    if grouped_uow is None:
        return ingest, None
    return ingest, IngestFeed(grouped_uow, ports.formats, ports.clock, ports.ids, **parts)


class FeedUseCases(TypedDict):
    held_feeds: SettleHeldFeeds
    retired_products: PurgeRetiredProducts
    changes: ReadChanges
    old_changes: PurgeChanges
    describe_contract: DescribeContract
    lifecycle: ContractLifecycle
    contract_usage: ReadContractUsage
    validate: ValidateFeed


def feed_use_cases(ports: Ports, ingest: IngestFeed, parsing: FeedParsing | None) -> FeedUseCases:
    """Around the ingest: held snapshots, retired products, the change feed, the contract."""
    uow, clock, settings, lifecycle = ports.uow, ports.clock, ports.settings, ports.lifecycle
    return FeedUseCases(
        held_feeds=SettleHeldFeeds(uow, ingest, clock),
        retired_products=PurgeRetiredProducts(
            uow, clock, timedelta(seconds=settings.retired_retention_seconds)
        ),
        changes=ReadChanges(uow),
        old_changes=PurgeChanges(uow, clock, timedelta(seconds=settings.change_retention_seconds)),
        describe_contract=DescribeContract(ports.formats, lifecycle, clock),
        lifecycle=lifecycle,
        contract_usage=ReadContractUsage(uow, lifecycle, clock),
        validate=ValidateFeed(
            ports.formats, limits=ports.limits, fast_validator=settings.fast_validator, parsing=parsing
        ),
    )


class AccessUseCases(TypedDict):
    guard: AccessGuard
    keys: ManageKeys
    web_sessions: WebSessions


def access_use_cases(
    ports: Ports, failures: RateLimiter, quotas: RateLimiter | None, server_secret: bytes
) -> AccessUseCases:
    """Who may do what: the guard (keys, roles, rate limits), API keys, page sessions."""
    settings = ports.settings
    access = AccessLimits(
        per_key_per_minute=settings.rate_limit_per_minute,
        admin_per_minute=settings.admin_rate_limit_per_minute,
        failed_auth_per_minute=settings.auth_failures_per_minute,
        block_base_seconds=settings.block_seconds,
        block_max_seconds=settings.max_block_seconds,
    )
    guard = AccessGuard(
        ports.uow,
        ports.audit,
        ports.clock,
        failures,
        quotas=quotas,
        server_secret=server_secret,
        limits=access,
    )
    return AccessUseCases(
        guard=guard,
        keys=ManageKeys(ports.uow, ports.clock, server_secret=server_secret, random_bytes=ports.random_bytes),
        web_sessions=WebSessions(
            ports.uow,
            guard,
            ports.clock,
            lifetime=timedelta(seconds=settings.web_session_seconds),
            random_bytes=ports.random_bytes,
        ),
    )


class JobUseCases(TypedDict):
    submit_job: SubmitFeedJob
    process_next_job: ProcessNextJob
    jobs: QueryJobs
    job_bodies: PurgeJobBodies


def job_use_cases(ports: Ports, ingest: IngestFeed) -> JobUseCases:
    """The job queue (ADR 0025): submit, process under a lease, look up, purge bodies."""
    uow, clock, ids, settings = ports.uow, ports.clock, ports.ids, ports.settings
    retention = BodyRetention(
        finished=timedelta(seconds=settings.job_body_retention_seconds),
        dead=timedelta(seconds=settings.job_body_retention_dead_seconds),
    )
    job_bodies = PurgeJobBodies(uow, clock, retention)
    return JobUseCases(
        submit_job=SubmitFeedJob(
            uow, ports.formats, clock, ids, max_attempts=settings.job_max_attempts, lifecycle=ports.lifecycle
        ),
        process_next_job=ProcessNextJob(
            uow,
            ingest,
            clock,
            ids,
            lease_seconds=settings.job_lease_seconds,
            backoff_base=settings.job_retry_base_seconds,
            bodies=job_bodies,
            on_dead=ports.events.job_dead,
        ),
        jobs=QueryJobs(uow, clock),
        job_bodies=job_bodies,
    )


class AdminUseCases(TypedDict):
    partners: ManagePartners
    audit_trail: QueryAudit
    imports: ReadImports
    products: ReadProducts
    diagnostics: ReadDiagnostics
    purge_diagnostics: PurgeDiagnostics
    purge_webhook_deliveries: PurgeWebhookDeliveries
    replay: ReplayImport
    verify_audit: VerifyAuditChain
    audit_verdict: CachedAuditVerdict


def admin_use_cases(
    ports: Ports, ingest: IngestFeed, product_cache: ProductReadCache | None = None
) -> AdminUseCases:
    """Partners, the audit trail and its verification, a partner's own reads, diagnostics."""
    uow, clock, settings = ports.uow, ports.clock, ports.settings
    verify_audit = VerifyAuditChain(ports.audit)
    return AdminUseCases(
        partners=ManagePartners(uow, clock, ports.vault, ports.formats, addresses=ports.addresses),
        audit_trail=QueryAudit(ports.audit),
        imports=ReadImports(uow),
        products=ReadProducts(uow, cache=product_cache),
        diagnostics=ReadDiagnostics(uow),
        purge_diagnostics=PurgeDiagnostics(uow, clock, retention_days=settings.diagnostics_retention_days),
        purge_webhook_deliveries=PurgeWebhookDeliveries(
            uow, clock, retention_days=settings.webhook_delivery_retention_days
        ),
        replay=ReplayImport(uow, ingest, clock, buffer=_replay_buffer),
        verify_audit=verify_audit,
        audit_verdict=CachedAuditVerdict(
            verify_audit, clock, timedelta(seconds=settings.audit_verify_seconds)
        ),
    )


def _replay_buffer() -> tempfile.SpooledTemporaryFile[bytes]:
    """Where a replay holds its items: in memory up to 1 MiB, then in a temporary file."""
    return tempfile.SpooledTemporaryFile(max_size=1 << 20)
