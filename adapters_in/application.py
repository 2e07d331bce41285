"""What the composition root hands every entry point (ADR 0032): `Application`, the ports and
use cases wired, and `Readiness`, what /readyz answers.

Invariant: every port is typed by its Protocol (ports/), never by an adapter's class, so any
implementation fits; an entry point holds one `Application` and nothing global. bootstrap.py
builds it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, SettleHeldFeeds, ValidateFeed
from partner_ingest.domain.use_cases.authenticate import AccessGuard
from partner_ingest.domain.use_cases.contract_usage import ReadContractUsage
from partner_ingest.domain.use_cases.diagnostics import PurgeDiagnostics, ReadDiagnostics
from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies
from partner_ingest.domain.use_cases.jobs import ProcessNextJob, QueryJobs, SubmitFeedJob
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.manage_partners import ManagePartners
from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules, RotateCredentials
from partner_ingest.domain.use_cases.product_cache import ProductReadCache
from partner_ingest.domain.use_cases.pull_feeds import PullDueFeeds
from partner_ingest.domain.use_cases.query_audit import QueryAudit
from partner_ingest.domain.use_cases.read_changes import ReadChanges
from partner_ingest.domain.use_cases.read_imports import ReadImports, ReadProducts
from partner_ingest.domain.use_cases.replay import ReplayImport
from partner_ingest.domain.use_cases.retention import PurgeWebhookDeliveries
from partner_ingest.domain.use_cases.retired_products import PurgeChanges, PurgeRetiredProducts
from partner_ingest.domain.use_cases.verify_audit import CachedAuditVerdict, VerifyAuditChain
from partner_ingest.domain.use_cases.web_sessions import WebSessions
from partner_ingest.domain.use_cases.webhooks import DeliverWebhooks, ManageWebhooks
from partner_ingest.ports import (
    AuditLog,
    Clock,
    CredentialVault,
    FeedFetcher,
    FeedParsing,
    FormatRegistry,
    IdSource,
    UnitOfWorkFactory,
)

from .settings import Settings

__all__ = ["Application", "Readiness"]


@attrs.frozen
class Readiness:
    """Can this instance serve requests now? `checks` says what was looked at (for /readyz)."""

    ready: bool
    checks: dict[str, str]


@attrs.frozen
class Application:
    """Ports and use cases, wired. Entry points hold one of these and nothing global.

    Every port is typed by its Protocol (ports/), so any implementation fits.
    """

    uow: UnitOfWorkFactory
    audit: AuditLog
    formats: FormatRegistry
    clock: Clock
    ids: IdSource
    limits: FeedLimits
    vault: CredentialVault
    ingest: IngestFeed
    held_feeds: SettleHeldFeeds
    """Release or discard the snapshots the mass-delete guard held (ADR 0036)."""
    retired_products: PurgeRetiredProducts
    """Purge the products retired longer than the retention (workers call `purge_retained`)."""
    changes: ReadChanges
    """The change feed by cursor (ADR 0037): for the HTTP API and for embedders."""
    old_changes: PurgeChanges
    """Purge the change records older than their retention (workers call `purge_retained`)."""
    describe_contract: DescribeContract
    lifecycle: ContractLifecycle
    """The contract versions' status (deprecated, retired) as the settings configure it (ADR 0035)."""
    contract_usage: ReadContractUsage
    """Which partners still send each contract version (admins)."""
    validate: ValidateFeed
    guard: AccessGuard
    keys: ManageKeys
    # Jobs and scheduled pulls.
    submit_job: SubmitFeedJob
    process_next_job: ProcessNextJob
    jobs: QueryJobs
    job_bodies: PurgeJobBodies
    """Deletes the feed bodies of finished jobs as the retention settings say; what is kept (metrics)."""
    fetcher: FeedFetcher
    """What scheduled pulls fetch with: the HTTP fetcher behind its circuit breaker (ADR 0014)."""
    pull_feeds: PullDueFeeds
    schedules: ManageSchedules
    rotate_credentials: RotateCredentials
    fetch_health: ReadFetchHealth
    """Circuit states per partner feed (as the store holds them) and recent fetch anomalies (admins, metrics)."""
    # Admin use cases, a partner's own reads, readiness.
    partners: ManagePartners
    audit_trail: QueryAudit
    imports: ReadImports
    products: ReadProducts
    diagnostics: ReadDiagnostics
    """Every rejected item of a partner's imports, and where each SKU stands."""
    purge_diagnostics: PurgeDiagnostics
    """Deletes the diagnostics older than the retention setting."""
    purge_webhook_deliveries: PurgeWebhookDeliveries
    """Deletes the finished webhook deliveries older than the retention setting."""
    replay: ReplayImport
    """An admin's re-run of an import's open rejected items (after a contract change)."""
    web_sessions: WebSessions
    """Sign-ins of the portal and the console (ADR 0038)."""
    ready: Callable[[], Readiness]
    """Database reachable and schema current (never raises)."""
    parsing: FeedParsing
    """Where feeds are parsed and validated: in the ingesting thread, or parser processes (ADR 0019)."""
    # --- completion webhooks (ADR 0034) ---
    webhooks: ManageWebhooks
    deliver_webhooks: DeliverWebhooks
    """One attempt at the next due webhook delivery (the worker calls it between jobs)."""
    verify_audit: VerifyAuditChain
    """Walks the audit chain (`partner-ingest audit verify`, ADR 0028)."""
    audit_verdict: CachedAuditVerdict
    """The last walk's verdict, renewed at most every `audit_verify_seconds` (/metrics)."""
    ingest_now: IngestFeed | None = None
    """What feeds answered while their sender waits (`POST /partner/ingest`) go through: with
    group commit (ADR 0039), units of work committed in batches; None: `ingest`."""
    product_cache: ProductReadCache | None = None
    """The read-through product cache (ADR 0017) when the settings enable it; its follower runs
    beside the HTTP server (`background.background_cache_follower`)."""
    settings: Settings = attrs.field(factory=Settings)
    close: Callable[[], None] = lambda: None
    """Release connections and pools (call once, at shutdown)."""

    def purge_retained(self) -> int:
        """What a worker deletes every `job_body_purge_seconds`: feed bodies, diagnostics,
        webhook deliveries, retired products and change records past their retention, and
        expired page sessions; how many."""
        return (
            self.job_bodies()
            + self.purge_diagnostics()
            + self.purge_webhook_deliveries()
            + self.web_sessions.purge_expired()
            + self.retired_products()
            + self.old_changes()
        )
