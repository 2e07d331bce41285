"""What the composition root hands every entry point (ADR 0032): `Application`, the ports and
use cases wired, and `Readiness`, what /readyz answers.

Invariant: every port is typed by its Protocol (ports/), never by an adapter's class, so any
implementation fits; an entry point holds one `Application` and nothing global. bootstrap.py
builds it. Its use cases are built on first use (wiring.py, ADR 0042): a command imports and
builds only those it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.policy import FeedLimits

from .settings import Settings

if TYPE_CHECKING:
    from partner_ingest.domain.use_cases import (
        DescribeContract,
        FeedSubmission,
        IngestFeed,
        SettleHeldFeeds,
        ValidateFeed,
    )
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
        IngestQueue,
        UnitOfWorkFactory,
        WriteQueue,
    )

    from .wiring import Wiring


__all__ = ["Application", "Readiness"]


@attrs.frozen
class Readiness:
    """Can this instance serve requests now? `checks` says what was looked at (for /readyz)."""

    ready: bool
    checks: dict[str, str]


@attrs.frozen
class Application:
    """Ports and use cases, wired. Entry points hold one of these and nothing global.

    Every port is typed by its Protocol (ports/), so any implementation fits. The use cases
    are read from the wiring, which builds each on its first use and keeps it: copies made
    with `attrs.evolve` share them.
    """

    uow: UnitOfWorkFactory
    audit: AuditLog
    formats: FormatRegistry
    clock: Clock
    ids: IdSource
    limits: FeedLimits
    vault: CredentialVault
    lifecycle: ContractLifecycle
    """The contract versions' status (deprecated, retired) as the settings configure it (ADR 0035)."""
    ready: Callable[[], Readiness]
    """Database reachable and schema current (never raises)."""
    parsing: FeedParsing
    """Where feeds are parsed and validated: in the ingesting thread, or parser processes (ADR 0019)."""
    _wired: Wiring = attrs.field(alias="wired", repr=False)
    """Where the use cases below come from, each built on its first read."""
    product_cache: ProductReadCache | None = None
    """The read-through product cache (ADR 0017) when the settings enable it; its follower runs
    beside the HTTP server (`background.background_cache_follower`)."""
    settings: Settings = attrs.field(factory=Settings)
    close: Callable[[], None] = lambda: None
    """Release connections and pools (call once, at shutdown)."""

    @property
    def ingest(self) -> IngestFeed:
        return self._wired.ingest

    @property
    def held_feeds(self) -> SettleHeldFeeds:
        """Release or discard the snapshots the mass-delete guard held (ADR 0036)."""
        return self._wired.held_feeds

    @property
    def retired_products(self) -> PurgeRetiredProducts:
        """Purge the products retired longer than the retention (workers call `purge_retained`)."""
        return self._wired.retired_products

    @property
    def changes(self) -> ReadChanges:
        """The change feed by cursor (ADR 0037): for the HTTP API and for embedders."""
        return self._wired.changes

    @property
    def old_changes(self) -> PurgeChanges:
        """Purge the change records older than their retention (workers call `purge_retained`)."""
        return self._wired.old_changes

    @property
    def describe_contract(self) -> DescribeContract:
        return self._wired.describe_contract

    @property
    def contract_usage(self) -> ReadContractUsage:
        """Which partners still send each contract version (admins)."""
        return self._wired.contract_usage

    @property
    def validate(self) -> ValidateFeed:
        return self._wired.validate

    @property
    def guard(self) -> AccessGuard:
        return self._wired.guard

    @property
    def keys(self) -> ManageKeys:
        return self._wired.keys

    @property
    def submit_job(self) -> SubmitFeedJob:
        return self._wired.submit_job

    @property
    def process_next_job(self) -> ProcessNextJob:
        return self._wired.process_next_job

    @property
    def jobs(self) -> QueryJobs:
        return self._wired.jobs

    @property
    def job_bodies(self) -> PurgeJobBodies:
        """Deletes the feed bodies of finished jobs as the retention settings say; what is kept (metrics)."""
        return self._wired.job_bodies

    @property
    def fetcher(self) -> FeedFetcher:
        """What scheduled pulls fetch with: the HTTP fetcher behind its circuit breaker (ADR 0014)."""
        return self._wired.fetcher

    @property
    def pull_feeds(self) -> PullDueFeeds:
        return self._wired.pull_feeds

    @property
    def schedules(self) -> ManageSchedules:
        return self._wired.schedules

    @property
    def rotate_credentials(self) -> RotateCredentials:
        return self._wired.rotate_credentials

    @property
    def fetch_health(self) -> ReadFetchHealth:
        """Circuit states per partner feed (as the store holds them) and recent fetch anomalies (admins, metrics)."""
        return self._wired.fetch_health

    @property
    def partners(self) -> ManagePartners:
        return self._wired.partners

    @property
    def audit_trail(self) -> QueryAudit:
        return self._wired.audit_trail

    @property
    def imports(self) -> ReadImports:
        return self._wired.imports

    @property
    def products(self) -> ReadProducts:
        return self._wired.products

    @property
    def diagnostics(self) -> ReadDiagnostics:
        """Every rejected item of a partner's imports, and where each SKU stands."""
        return self._wired.diagnostics

    @property
    def purge_diagnostics(self) -> PurgeDiagnostics:
        """Deletes the diagnostics older than the retention setting."""
        return self._wired.purge_diagnostics

    @property
    def purge_webhook_deliveries(self) -> PurgeWebhookDeliveries:
        """Deletes the finished webhook deliveries older than the retention setting."""
        return self._wired.purge_webhook_deliveries

    @property
    def replay(self) -> ReplayImport:
        """An admin's re-run of an import's open rejected items (after a contract change)."""
        return self._wired.replay

    @property
    def web_sessions(self) -> WebSessions:
        """Sign-ins of the portal and the console (ADR 0038)."""
        return self._wired.web_sessions

    @property
    def webhooks(self) -> ManageWebhooks:
        return self._wired.webhooks

    @property
    def deliver_webhooks(self) -> DeliverWebhooks:
        """One attempt at the next due webhook delivery (the worker calls it between jobs)."""
        return self._wired.deliver_webhooks

    @property
    def verify_audit(self) -> VerifyAuditChain:
        """Walks the audit chain (`partner-ingest audit verify`, ADR 0028)."""
        return self._wired.verify_audit

    @property
    def audit_verdict(self) -> CachedAuditVerdict:
        """The last walk's verdict, renewed at most every `audit_verify_seconds` (/metrics)."""
        return self._wired.audit_verdict

    @property
    def ingest_now(self) -> IngestFeed | None:
        """What feeds answered while their sender waits (`POST /partner/ingest`) go through: with
        group commit (ADR 0039), units of work committed in batches; None: `ingest`."""
        return self._wired.ingest_now

    @property
    def feed_writer(self) -> WriteQueue | None:
        """The writer `ingest_now` must run in (submit), when its units of work are the
        writer's (ADR 0043); None: call `ingest_now` in any thread."""
        return self._wired.writer

    @property
    def sync_ingest(self) -> IngestQueue[FeedSubmission] | None:
        """Where `POST /partner/ingest` submits its feeds: an ingest process (ADR 0047) or the
        writer thread (ADR 0043); None: call `ingest_now` (else `ingest`) in any thread."""
        return self._wired.sync_ingest

    def replacing(self, **use_cases: object) -> Application:
        """A copy of this application whose named use cases are the ones given (a test's
        failing part, an embedder's own); see `Wiring.replacing`."""
        return attrs.evolve(self, wired=self._wired.replacing(**use_cases))

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
