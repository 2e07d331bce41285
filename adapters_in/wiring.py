"""`wire`'s product (ADR 0032): the use cases of every area of the service, each built over
ports already chosen on its first use. bootstrap.py chooses the ports (`build`) and hands them
here (`wire`); the areas that reach partners' servers (scheduled pulls, webhooks) are built by
wiring_outbound.py.

Invariant: a use case is built once, when it is first asked for, and its module is imported
then, not before: a command that ingests imports the ingest and what it needs, not the
server's use cases (ADR 0042). Two threads asking at once get one instance (`Once`). Nothing
here opens a connection, starts a thread or reads the environment: the HTTP fetcher and the
webhook sender are built on their first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from . import wiring_outbound as outbound
from .default_ports import Ports

if TYPE_CHECKING:
    import tempfile

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
    from partner_ingest.domain.use_cases.verified_keys import VerifiedKeys
    from partner_ingest.domain.use_cases.verify_audit import CachedAuditVerdict, VerifyAuditChain
    from partner_ingest.domain.use_cases.web_sessions import WebSessions
    from partner_ingest.domain.use_cases.webhooks import QueueWebhookEvents
    from partner_ingest.ports import (
        FeedFetcher,
        FeedParsing,
        IngestQueue,
        RateLimiter,
        UnitOfWorkFactory,
        WriteQueue,
    )
    from partner_ingest.ports.webhooks import WebhookSender

__all__ = ["Once", "Wiring"]

T = TypeVar("T")


class Once(Generic[T]):
    """A part of the wiring built on its first use, then kept: the first reader builds it under
    the wiring's lock (so two threads asking at once share one instance), and stores it on the
    wiring, where later reads find it as a plain attribute."""

    def __init__(self, build: Callable[[Wiring], T]) -> None:
        self._build = build
        self._name = build.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, wiring: None, owner: type | None = None) -> Once[T]: ...

    @overload
    def __get__(self, wiring: Wiring, owner: type | None = None) -> T: ...

    def __get__(self, wiring: Wiring | None, owner: type | None = None) -> Once[T] | T:
        if wiring is None:
            return self
        with wiring.lock:
            kept = wiring.__dict__
            if self._name not in kept:
                kept[self._name] = self._build(wiring)
            return cast("T", kept[self._name])


def _called_once(open_: Callable[[], T]) -> Callable[[], T]:
    """`open_` called on the first call only, under a lock; every call returns what it opened.

    `Once` keeps a part per wiring; a part that copies of a wiring must share (the writer: one
    thread, one connection) is opened through this, which the copies hold in common."""
    lock = threading.Lock()
    opened: list[T] = []

    def once() -> T:
        with lock:
            if not opened:
                opened.append(open_())
            return opened[0]

    return once


def _ingest_parts(w: Wiring) -> dict[str, Any]:
    """One ingest's parts, shared by the ingest of jobs and CLI feeds and the grouped one."""
    from partner_ingest.adapters_out.spool import FileRejectionSpools
    from partner_ingest.domain.model.retirement import RetirementGuard

    settings = w.ports.settings
    return {
        "limits": w.ports.limits,
        "parsing": w.parsing,
        "fast_validator": settings.fast_validator,
        "steps": [w.events],
        "lifecycle": w.ports.lifecycle,
        "spools": FileRejectionSpools(),
        "guard": RetirementGuard(settings.retire_max_share, settings.retire_max_count),
    }


def _ingest(w: Wiring) -> IngestFeed:
    from partner_ingest.domain.use_cases.ingest_feed import IngestFeed

    ports = w.ports
    return IngestFeed(ports.uow, ports.formats, ports.clock, ports.ids, **w.ingest_parts)


def _ingest_now(w: Wiring) -> IngestFeed | None:
    """The grouped ingest of feeds answered while their sender waits (ADR 0039); None without
    group commit."""
    if w.grouped_uow is None:
        return None
    from partner_ingest.domain.use_cases.ingest_feed import IngestFeed

    ports = w.ports
    return IngestFeed(w.grouped_uow, ports.formats, ports.clock, ports.ids, **w.ingest_parts)


def _writer(w: Wiring) -> WriteQueue | None:
    """The writer handed in, else the one `open_writer` opens (the group-commit writer only the
    HTTP server's answered feeds use: a worker, a scheduler or a CLI command never imports it)."""
    if w.writer_given is not None:
        return w.writer_given
    return w.open_writer() if w.open_writer is not None else None


def _sync_ingest(w: Wiring) -> IngestQueue[FeedSubmission] | None:
    """Where feeds answered while their sender waits are ingested: the ingest process when one
    is opened (ADR 0047), else the writer thread (ADR 0043); None: in any thread (`ingest_now`
    or `ingest`)."""
    if w.open_ingest_process is not None:
        queue = w.open_ingest_process()
        if queue is not None:
            return queue
    writer, ingest_now = w.writer, w.ingest_now
    if writer is None or ingest_now is None:
        return None
    from .ingest_queues import WriterIngest

    return WriterIngest(writer, ingest_now)


def _grouped_uow(w: Wiring) -> UnitOfWorkFactory | None:
    """The writer's units of work when there is a writer, else those handed in."""
    writer = w.writer
    return writer.unit_of_work if writer is not None else w.grouped_uow_given


def _events(w: Wiring) -> QueueWebhookEvents:
    from partner_ingest.domain.use_cases.webhooks import QueueWebhookEvents

    return QueueWebhookEvents(w.ports.clock, w.ports.ids)


# --- around the ingest: held snapshots, retired products, the change feed, the contract ---


def _held_feeds(w: Wiring) -> SettleHeldFeeds:
    from partner_ingest.domain.use_cases.held_feeds import SettleHeldFeeds

    return SettleHeldFeeds(w.ports.uow, w.ingest, w.ports.clock)


def _retired_products(w: Wiring) -> PurgeRetiredProducts:
    from partner_ingest.domain.use_cases.retired_products import PurgeRetiredProducts

    retention = timedelta(seconds=w.ports.settings.retired_retention_seconds)
    return PurgeRetiredProducts(w.ports.uow, w.ports.clock, retention)


def _changes(w: Wiring) -> ReadChanges:
    from partner_ingest.domain.use_cases.read_changes import ReadChanges

    return ReadChanges(w.ports.uow)


def _old_changes(w: Wiring) -> PurgeChanges:
    from partner_ingest.domain.use_cases.retired_products import PurgeChanges

    retention = timedelta(seconds=w.ports.settings.change_retention_seconds)
    return PurgeChanges(w.ports.uow, w.ports.clock, retention)


def _describe_contract(w: Wiring) -> DescribeContract:
    from partner_ingest.domain.use_cases.describe_contract import DescribeContract

    return DescribeContract(w.ports.formats, w.ports.lifecycle, w.ports.clock)


def _contract_usage(w: Wiring) -> ReadContractUsage:
    from partner_ingest.domain.use_cases.contract_usage import ReadContractUsage

    return ReadContractUsage(w.ports.uow, w.ports.lifecycle, w.ports.clock)


def _validate(w: Wiring) -> ValidateFeed:
    from partner_ingest.domain.use_cases.validate_feed import ValidateFeed

    ports = w.ports
    return ValidateFeed(
        ports.formats, limits=ports.limits, fast_validator=ports.settings.fast_validator, parsing=w.parsing
    )


# --- who may do what: the guard (keys, roles, rate limits), API keys, page sessions ---


def _guard(w: Wiring) -> AccessGuard:
    from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
    from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits

    ports, settings = w.ports, w.ports.settings
    access = AccessLimits(
        per_key_per_minute=settings.rate_limit_per_minute,
        admin_per_minute=settings.admin_rate_limit_per_minute,
        failed_auth_per_minute=settings.auth_failures_per_minute,
        block_base_seconds=settings.block_seconds,
        block_max_seconds=settings.max_block_seconds,
    )
    failures = w.rate_limiter if w.rate_limiter is not None else InProcessRateLimiter(ports.clock)
    return AccessGuard(
        ports.uow,
        ports.audit,
        ports.clock,
        failures,
        quotas=w.quota_limiter,
        server_secret=w.server_secret,
        limits=access,
        verified=w.verified_keys,
        limits_in_process=w.rate_limiter is None and w.quota_limiter is None,
    )


def _verified_keys(w: Wiring) -> VerifiedKeys:
    from partner_ingest.domain.use_cases.verified_keys import VerifiedKeys

    return VerifiedKeys(w.ports.settings.key_cache_seconds)


def _keys(w: Wiring) -> ManageKeys:
    from partner_ingest.domain.use_cases.manage_keys import ManageKeys

    ports = w.ports
    return ManageKeys(
        ports.uow,
        ports.clock,
        server_secret=w.server_secret,
        random_bytes=ports.random_bytes,
        on_change=w.verified_keys.forget,
    )


def _web_sessions(w: Wiring) -> WebSessions:
    from partner_ingest.domain.use_cases.web_sessions import WebSessions

    ports = w.ports
    return WebSessions(
        ports.uow,
        w.guard,
        ports.clock,
        lifetime=timedelta(seconds=ports.settings.web_session_seconds),
        random_bytes=ports.random_bytes,
    )


# --- the job queue (ADR 0025): submit, process under a lease, look up, purge bodies ---


def _submit_job(w: Wiring) -> SubmitFeedJob:
    from partner_ingest.domain.use_cases.submit_job import SubmitFeedJob

    ports = w.ports
    return SubmitFeedJob(
        ports.uow,
        ports.formats,
        ports.clock,
        ports.ids,
        max_attempts=ports.settings.job_max_attempts,
        lifecycle=ports.lifecycle,
    )


def _process_next_job(w: Wiring) -> ProcessNextJob:
    from partner_ingest.domain.use_cases.process_job import ProcessNextJob

    ports = w.ports
    return ProcessNextJob(
        ports.uow,
        w.ingest,
        ports.clock,
        ports.ids,
        lease_seconds=ports.settings.job_lease_seconds,
        backoff_base=ports.settings.job_retry_base_seconds,
        bodies=w.job_bodies,
        on_dead=w.events.job_dead,
    )


def _jobs(w: Wiring) -> QueryJobs:
    from partner_ingest.domain.use_cases.query_jobs import QueryJobs

    return QueryJobs(w.ports.uow, w.ports.clock)


def _job_bodies(w: Wiring) -> PurgeJobBodies:
    from partner_ingest.domain.model.jobs import BodyRetention
    from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies

    settings = w.ports.settings
    retention = BodyRetention(
        finished=timedelta(seconds=settings.job_body_retention_seconds),
        dead=timedelta(seconds=settings.job_body_retention_dead_seconds),
    )
    return PurgeJobBodies(w.ports.uow, w.ports.clock, retention)


# --- partners, the audit trail and its verification, a partner's own reads, diagnostics ---


def _partners(w: Wiring) -> ManagePartners:
    from partner_ingest.domain.use_cases.manage_partners import ManagePartners

    ports = w.ports
    return ManagePartners(
        ports.uow,
        ports.clock,
        ports.vault,
        ports.formats,
        addresses=ports.addresses,
        on_change=w.verified_keys.forget,
    )


def _audit_trail(w: Wiring) -> QueryAudit:
    from partner_ingest.domain.use_cases.query_audit import QueryAudit

    return QueryAudit(w.ports.audit)


def _imports(w: Wiring) -> ReadImports:
    from partner_ingest.domain.use_cases.read_imports import ReadImports

    return ReadImports(w.ports.uow)


def _products(w: Wiring) -> ReadProducts:
    from partner_ingest.domain.use_cases.read_imports import ReadProducts

    return ReadProducts(w.ports.uow, cache=w.product_cache)


def _diagnostics(w: Wiring) -> ReadDiagnostics:
    from partner_ingest.domain.use_cases.diagnostics import ReadDiagnostics

    return ReadDiagnostics(w.ports.uow)


def _purge_diagnostics(w: Wiring) -> PurgeDiagnostics:
    from partner_ingest.domain.use_cases.diagnostics import PurgeDiagnostics

    ports = w.ports
    return PurgeDiagnostics(ports.uow, ports.clock, retention_days=ports.settings.diagnostics_retention_days)


def _purge_webhook_deliveries(w: Wiring) -> PurgeWebhookDeliveries:
    from partner_ingest.domain.use_cases.retention import PurgeWebhookDeliveries

    ports = w.ports
    return PurgeWebhookDeliveries(
        ports.uow, ports.clock, retention_days=ports.settings.webhook_delivery_retention_days
    )


def _replay(w: Wiring) -> ReplayImport:
    from partner_ingest.domain.use_cases.replay import ReplayImport

    return ReplayImport(w.ports.uow, w.ingest, w.ports.clock, buffer=_replay_buffer)


def _replay_buffer() -> tempfile.SpooledTemporaryFile[bytes]:
    """Where a replay holds its items: in memory up to 1 MiB, then in a temporary file."""
    import tempfile

    return tempfile.SpooledTemporaryFile(max_size=1 << 20)


def _verify_audit(w: Wiring) -> VerifyAuditChain:
    from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain

    return VerifyAuditChain(w.ports.audit)


def _audit_verdict(w: Wiring) -> CachedAuditVerdict:
    from partner_ingest.domain.use_cases.verify_audit import CachedAuditVerdict

    every = timedelta(seconds=w.ports.settings.audit_verify_seconds)
    return CachedAuditVerdict(w.verify_audit, w.ports.clock, every)


class Wiring:
    """The use cases over `ports`, each built on its first use (`Once`) and then kept, so every
    reader shares one instance; `Application` reads them from here (its attributes of the same
    names)."""

    def __init__(
        self,
        ports: Ports,
        *,
        server_secret: bytes,
        parsing: FeedParsing | None = None,
        grouped_uow: UnitOfWorkFactory | None = None,
        writer: WriteQueue | None = None,
        open_writer: Callable[[], WriteQueue | None] | None = None,
        open_ingest_process: Callable[[], IngestQueue[FeedSubmission] | None] | None = None,
        rate_limiter: RateLimiter | None = None,
        quota_limiter: RateLimiter | None = None,
        fetcher: FeedFetcher | None = None,
        webhook_sender: WebhookSender | None = None,
        product_cache: ProductReadCache | None = None,
    ) -> None:
        self.lock = threading.RLock()
        """Held while a part is built (re-entered when it needs another part)."""
        self.ports = ports
        self.server_secret = server_secret
        """What API keys are hashed under (HMAC, ADR 0004)."""
        self.parsing = parsing
        """Where feeds are parsed; None: in the ingesting thread."""
        self.grouped_uow_given = grouped_uow
        """Units of work committed in groups (ADR 0039), when handed in without a writer."""
        self.writer_given = writer
        """The writer `ingest_now` runs in, when handed in (ADR 0043)."""
        self.open_writer = None if open_writer is None else _called_once(open_writer)
        """Opens the writer on its first use, when none was handed in (None: no writer); once,
        since a copy made by `replacing` before that use keeps this and opens through it too."""
        self.open_ingest_process = None if open_ingest_process is None else _called_once(open_ingest_process)
        """Opens the ingest process on its first use (None, or it returns None: no process); once
        for the wiring and its copies."""
        self.rate_limiter = rate_limiter
        """Failed sign-ins (None: in this process)."""
        self.quota_limiter = quota_limiter
        self.fetcher_given = fetcher
        """The HTTP side of pulls, when handed in (None: the HTTP fetcher, built on the first pull)."""
        self.webhook_sender = webhook_sender
        self.product_cache = product_cache

    def replacing(self, **parts: object) -> Wiring:
        """A wiring over the same ports whose named parts are the ones given; the parts built
        here already are shared with it, the others are built there on their first use.
        A name that is no part of the wiring is a TypeError."""
        unknown = sorted(name for name in parts if not isinstance(getattr(Wiring, name, None), Once))
        if unknown:
            raise TypeError(f"no such part of the wiring: {', '.join(unknown)}")
        copy = Wiring.__new__(Wiring)
        with self.lock:
            copy.__dict__.update(self.__dict__)
        copy.lock = threading.RLock()
        copy.__dict__.update(parts)
        if {"ingest_now", "writer"} & parts.keys() and "sync_ingest" not in parts:
            # The feeds answered while their sender waits go to the ingest given, so to the
            # writer thread of this process: an ingest process builds its own from the settings.
            copy.__dict__.pop("sync_ingest", None)
            copy.open_ingest_process = None
        return copy

    writer = Once(_writer)
    """The writer `ingest_now` runs in, when its units of work are the writer's (ADR 0043)."""
    grouped_uow = Once(_grouped_uow)
    """Units of work committed in groups (ADR 0039); None: no group commit."""
    ingest_parts = Once(_ingest_parts)
    events = Once(_events)
    """Queues webhook events in the unit of work of what they report (ADR 0034)."""
    ingest = Once(_ingest)
    ingest_now = Once(_ingest_now)
    sync_ingest = Once(_sync_ingest)
    held_feeds = Once(_held_feeds)
    retired_products = Once(_retired_products)
    changes = Once(_changes)
    old_changes = Once(_old_changes)
    describe_contract = Once(_describe_contract)
    contract_usage = Once(_contract_usage)
    validate = Once(_validate)
    guard = Once(_guard)
    verified_keys = Once(_verified_keys)
    """Keys the guard verified a moment ago; forgotten when this process changes keys or partners."""
    keys = Once(_keys)
    web_sessions = Once(_web_sessions)
    submit_job = Once(_submit_job)
    process_next_job = Once(_process_next_job)
    jobs = Once(_jobs)
    job_bodies = Once(_job_bodies)
    fetcher = Once(outbound.fetcher)
    cron = Once(outbound.cron)
    pull_feeds = Once(outbound.pull_feeds)
    schedules = Once(outbound.schedules)
    rotate_credentials = Once(outbound.rotate_credentials)
    fetch_health = Once(outbound.fetch_health)
    webhook_rules = Once(outbound.webhook_rules)
    webhooks = Once(outbound.webhooks)
    deliver_webhooks = Once(outbound.deliver_webhooks)
    partners = Once(_partners)
    audit_trail = Once(_audit_trail)
    imports = Once(_imports)
    products = Once(_products)
    diagnostics = Once(_diagnostics)
    purge_diagnostics = Once(_purge_diagnostics)
    purge_webhook_deliveries = Once(_purge_webhook_deliveries)
    replay = Once(_replay)
    verify_audit = Once(_verify_audit)
    audit_verdict = Once(_audit_verdict)
