"""The composition root: settings in, a wired application out.

The only module of `adapters_in` allowed to import outbound adapters. Every
entry point (HTTP app, worker, scheduler, CLI) gets its wiring from here:

- `build(settings, store=..., ...)`: the service as `serve` runs it. Every port
  can be handed in (store, rate limiters, fetcher, vault, clock, ids, secrets,
  formats, parsing); whatever is not gets the default the settings describe, so
  an embedder replaces one part without re-wiring the rest;
- `wire(uow, audit, secrets_=...)`: the use cases over ports already chosen;
- `in_memory()`: everything in memory with a fake clock, for tests (T1).

Secrets are never made up and forgotten: they come from the settings, or from
the secrets file, which is created on first start and read on every later one
(API keys hashed under a secret stop working once it is lost). ADR 0032.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from secrets import token_bytes
from typing import Any

import attrs

from partner_ingest.adapters_out.cron import CronsimRules
from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.fetcher import (
    AddressPolicy,
    CircuitBreakerFetcher,
    DeferredFetcher,
    DeferredWebhookSender,
)
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.parser_processes import ParserProcesses
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.adapters_out.spool import FileRejectionSpools
from partner_ingest.adapters_out.sqlite.migrate import available_migrations
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.system import SystemClock, UuidIds
from partner_ingest.domain.model.circuits import BreakerPolicy
from partner_ingest.domain.model.jobs import BodyRetention
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.retirement import RetirementGuard
from partner_ingest.domain.model.webhooks import DeliveryBackoff
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, SettleHeldFeeds, ValidateFeed
from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits
from partner_ingest.domain.use_cases.contract_usage import ReadContractUsage
from partner_ingest.domain.use_cases.diagnostics import PurgeDiagnostics, ReadDiagnostics
from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies
from partner_ingest.domain.use_cases.jobs import ProcessNextJob, QueryJobs, SubmitFeedJob
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.manage_partners import ManagePartners
from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules, RotateCredentials
from partner_ingest.domain.use_cases.pipeline import PARSE_HERE
from partner_ingest.domain.use_cases.pull_feeds import AnomalyRule, PullDueFeeds
from partner_ingest.domain.use_cases.query_audit import QueryAudit
from partner_ingest.domain.use_cases.read_changes import ReadChanges
from partner_ingest.domain.use_cases.read_imports import ReadImports, ReadProducts
from partner_ingest.domain.use_cases.replay import ReplayImport
from partner_ingest.domain.use_cases.retired_products import PurgeChanges, PurgeRetiredProducts
from partner_ingest.domain.use_cases.verify_audit import CachedAuditVerdict, VerifyAuditChain
from partner_ingest.domain.use_cases.web_sessions import WebSessions
from partner_ingest.domain.use_cases.webhooks import (
    DeliverWebhooks,
    ManageWebhooks,
    QueueWebhookEvents,
    WebhookRules,
)
from partner_ingest.plugins import load_formats
from partner_ingest.ports import (
    AuditLog,
    Clock,
    CredentialVault,
    FeedFetcher,
    FeedParsing,
    FormatRegistry,
    IdSource,
    RateLimiter,
    Store,
    UnitOfWorkFactory,
)
from partner_ingest.ports.rate_limit import FailurePolicy
from partner_ingest.ports.webhooks import WebhookSender

from .secrets_file import ServiceSecrets, fresh_secrets, load_or_create
from .settings import PREFIX, Settings, SettingsError, contract_lifecycle, networks

__all__ = [
    "Application",
    "Readiness",
    "ServiceSecrets",
    "build",
    "check_settings",
    "in_memory",
    "secrets_path",
    "wire",
]


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
    settings: Settings = attrs.field(factory=Settings)
    close: Callable[[], None] = lambda: None
    """Release connections and pools (call once, at shutdown)."""

    def purge_retained(self) -> int:
        """What a worker deletes every `job_body_purge_seconds`: feed bodies, diagnostics,
        retired products and change records past their retention, and expired page sessions;
        how many."""
        return (
            self.job_bodies()
            + self.purge_diagnostics()
            + self.web_sessions.purge_expired()
            + self.retired_products()
            + self.old_changes()
        )


def wire(
    uow: UnitOfWorkFactory,
    audit: AuditLog,
    *,
    secrets_: ServiceSecrets,
    formats: FormatRegistry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    limits: FeedLimits | None = None,
    rate_limiter: RateLimiter | None = None,
    quota_limiter: RateLimiter | None = None,
    fetcher: FeedFetcher | None = None,
    vault: CredentialVault | None = None,
    settings: Settings | None = None,
    random_bytes: Callable[[int], bytes] = token_bytes,
    close: Callable[[], None] = lambda: None,
    ready: Callable[[], Readiness] | None = None,
    parsing: FeedParsing | None = None,
    webhook_sender: WebhookSender | None = None,
    grouped_uow: UnitOfWorkFactory | None = None,
) -> Application:
    """Build the use cases over the given ports; unnamed ones get in-process defaults
    (feeds are parsed in the ingesting thread unless `parsing` says otherwise).

    `secrets_` has no default: API keys are hashed under its secret and partner
    credentials encrypted under its vault keys, so secrets made up here would
    die with the process and take every issued key with them. `build` reads them
    from the settings or the secrets file; `in_memory` makes fresh ones for a
    store that dies with the process anyway. `fetcher` is the HTTP side of pulls;
    it is wrapped in the circuit breaker either way.
    """
    settings = settings or Settings()
    formats = formats if formats is not None else load_formats()
    clock = clock if clock is not None else SystemClock()
    ids = ids if ids is not None else UuidIds()
    limits = limits or FeedLimits()
    failures = rate_limiter if rate_limiter is not None else InProcessRateLimiter(clock)
    access = AccessLimits(
        per_key_per_minute=settings.rate_limit_per_minute,
        admin_per_minute=settings.admin_rate_limit_per_minute,
        failed_auth_per_minute=settings.auth_failures_per_minute,
        block_base_seconds=settings.block_seconds,
        block_max_seconds=settings.max_block_seconds,
    )
    fast = settings.fast_validator
    events = QueueWebhookEvents(clock, ids)
    lifecycle = contract_lifecycle(settings)
    # One ingest's parts, shared by the ingest of jobs and CLI feeds and the grouped one of
    # feeds answered while their sender waits.
    ingest_parts: dict[str, Any] = {
        "limits": limits,
        "parsing": parsing,
        "fast_validator": fast,
        "steps": [events],
        "lifecycle": lifecycle,
        "spools": FileRejectionSpools(),
        "guard": RetirementGuard(settings.retire_max_share, settings.retire_max_count),
    }
    ingest = IngestFeed(uow, formats, clock, ids, **ingest_parts)
    ingest_now = None if grouped_uow is None else IngestFeed(grouped_uow, formats, clock, ids, **ingest_parts)
    vault = vault if vault is not None else FernetVault(secrets_.vault_keys)
    webhook_rules = WebhookRules(
        disable_after=settings.webhook_disable_after_failures,
        overlap=timedelta(seconds=settings.webhook_secret_overlap_seconds),
        backoff=DeliveryBackoff(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=max(3600.0, settings.webhook_retry_base_seconds)),
            window=timedelta(seconds=settings.webhook_retry_window_seconds),
        ),
        lease=timedelta(seconds=settings.webhook_timeout_seconds + 60),
    )
    submit_job = SubmitFeedJob(
        uow, formats, clock, ids, max_attempts=settings.job_max_attempts, lifecycle=lifecycle
    )
    # One policy for pulls and for configuring endpoints, so both refuse the same addresses.
    addresses = AddressPolicy(allowed=networks(settings, "fetch_allow_networks"))
    cron = CronsimRules()
    job_bodies = PurgeJobBodies(
        uow,
        clock,
        BodyRetention(
            finished=timedelta(seconds=settings.job_body_retention_seconds),
            dead=timedelta(seconds=settings.job_body_retention_dead_seconds),
        ),
    )
    if fetcher is None:
        fetcher = DeferredFetcher(lambda: _http_fetcher(settings, addresses, clock))
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
    guard = AccessGuard(
        uow,
        audit,
        clock,
        failures,
        quotas=quota_limiter,
        server_secret=secrets_.key_hash_secret,
        limits=access,
    )
    verify_audit = VerifyAuditChain(audit)
    return Application(
        uow=uow,
        audit=audit,
        formats=formats,
        clock=clock,
        ids=ids,
        limits=limits,
        vault=vault,
        ingest=ingest,
        held_feeds=SettleHeldFeeds(uow, ingest, clock),
        changes=ReadChanges(uow),
        old_changes=PurgeChanges(uow, clock, timedelta(seconds=settings.change_retention_seconds)),
        retired_products=PurgeRetiredProducts(
            uow, clock, timedelta(seconds=settings.retired_retention_seconds)
        ),
        ingest_now=ingest_now,
        describe_contract=DescribeContract(formats, lifecycle, clock),
        lifecycle=lifecycle,
        contract_usage=ReadContractUsage(uow, lifecycle, clock),
        validate=ValidateFeed(formats, limits=limits, fast_validator=fast, parsing=parsing),
        guard=guard,
        keys=ManageKeys(uow, clock, server_secret=secrets_.key_hash_secret, random_bytes=random_bytes),
        submit_job=submit_job,
        process_next_job=ProcessNextJob(
            uow,
            ingest,
            clock,
            ids,
            lease_seconds=settings.job_lease_seconds,
            bodies=job_bodies,
            on_dead=events.job_dead,
        ),
        jobs=QueryJobs(uow, clock),
        job_bodies=job_bodies,
        fetcher=breaker,
        pull_feeds=PullDueFeeds(
            uow,
            audit,
            breaker,
            vault,
            submit_job,
            formats,
            clock,
            cron=cron,
            anomaly=AnomalyRule(per_hour=settings.fetch_anomaly_per_hour),
        ),
        schedules=ManageSchedules(uow, formats, clock, ids, cron=cron, addresses=addresses),
        rotate_credentials=RotateCredentials(uow, vault, clock),
        fetch_health=ReadFetchHealth(uow, audit, clock),
        partners=ManagePartners(uow, clock, vault, formats, addresses=addresses),
        audit_trail=QueryAudit(audit),
        imports=ReadImports(uow),
        products=ReadProducts(uow),
        diagnostics=ReadDiagnostics(uow),
        purge_diagnostics=PurgeDiagnostics(uow, clock, retention_days=settings.diagnostics_retention_days),
        replay=ReplayImport(uow, ingest, clock, buffer=_replay_buffer),
        web_sessions=WebSessions(
            uow,
            guard,
            clock,
            lifetime=timedelta(seconds=settings.web_session_seconds),
            random_bytes=random_bytes,
        ),
        ready=ready or _store_ready(uow),
        parsing=parsing if parsing is not None else PARSE_HERE,
        webhooks=ManageWebhooks(
            uow,
            vault,
            clock,
            events,
            addresses=addresses,
            rules=webhook_rules,
            random_bytes=random_bytes,
        ),
        deliver_webhooks=DeliverWebhooks(
            uow,
            webhook_sender or DeferredWebhookSender(lambda: _http_webhook_sender(settings, addresses, clock)),
            vault,
            clock,
            ids,
            rules=webhook_rules,
        ),
        verify_audit=verify_audit,
        audit_verdict=CachedAuditVerdict(
            verify_audit, clock, timedelta(seconds=settings.audit_verify_seconds)
        ),
        settings=settings,
        close=close,
    )


def _replay_buffer() -> tempfile.SpooledTemporaryFile[bytes]:
    """Where a replay holds its items: in memory up to 1 MiB, then in a temporary file."""
    return tempfile.SpooledTemporaryFile(max_size=1 << 20)


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


def _store_ready(
    uow: UnitOfWorkFactory, schema: Callable[[], str | None] = lambda: None
) -> Callable[[], Readiness]:
    """A readiness check: a read-only unit of work answers, and `schema` finds nothing wrong."""

    def ready() -> Readiness:
        try:
            with uow(read_only=True) as work:
                work.api_keys.count()
            problem = schema()
        except Exception as error:
            return Readiness(False, {"database": f"unreachable ({type(error).__name__})"})
        if problem is not None:
            return Readiness(False, {"database": "reachable", "schema": problem})
        return Readiness(True, {"database": "reachable", "schema": "current"})

    return ready


def _with_redis(ready: Callable[[], Readiness], ping: Callable[[], bool]) -> Callable[[], Readiness]:
    """`ready`, and Redis answering: failure limits fail closed without it, so
    every partner request would be refused (ADR 0015): the load balancer should look elsewhere."""

    def check() -> Readiness:
        store = ready()
        reachable = ping()
        checks = {**store.checks, "redis": "reachable" if reachable else "unreachable"}
        return Readiness(store.ready and reachable, checks)

    return check


def _with_disk(ready: Callable[[], Readiness], directory: Path, minimum: int) -> Callable[[], Readiness]:
    """`ready`, and at least `minimum` bytes free where the SQLite file lives: below it, writes
    are about to fail with `store_full`, so the load balancer should look elsewhere first."""

    def check() -> Readiness:
        store = ready()
        try:
            free = shutil.disk_usage(directory).free
        except OSError as error:
            return Readiness(False, {**store.checks, "disk": f"unknown ({type(error).__name__})"})
        if free < minimum:
            return Readiness(False, {**store.checks, "disk": f"low ({free} bytes free, below {minimum})"})
        return Readiness(store.ready, {**store.checks, "disk": "ok"})

    return check


def _schema_current(version: Callable[[], int], newest: int) -> Callable[[], str | None]:
    """A schema check for `_store_ready`: None while the store is at this release's newest migration."""

    def check() -> str | None:
        current = version()
        return None if current == newest else f"at migration {current}, this release needs {newest}"

    return check


def secrets_path(settings: Settings) -> Path | None:
    """Where the secrets not set in the environment are kept (None: every one is set, or none
    can be kept: PostgreSQL without a secrets file)."""
    if settings.key_hash_secret and settings.vault_keys:
        return None
    if settings.secrets_file:
        return Path(settings.secrets_file)
    return settings.sqlite_path.with_suffix(".secrets.json") if settings.is_sqlite else None


def check_settings(settings: Settings) -> None:
    """What `build` would refuse before it touches anything, as a SettingsError naming the
    variable: the vault keys, and the SQLite file's directory. (Settings.from_env checked the rest.)"""
    if settings.vault_keys:
        _vault_keys(settings.vault_keys)
    if settings.is_sqlite and not settings.sqlite_path.resolve().parent.is_dir():
        raise SettingsError(
            f"{PREFIX}DATABASE_URL: cannot open the SQLite file {str(settings.sqlite_path)!r}: "
            "its directory does not exist"
        )


def _secrets(settings: Settings) -> ServiceSecrets:
    """The secrets the settings name, else those of the secrets file (created on first start,
    read on every later one). Never ones made up and forgotten: keys hashed under them would
    stop working at the next start."""
    if settings.key_hash_secret and settings.vault_keys:
        return ServiceSecrets(settings.key_hash_secret.encode(), _vault_keys(settings.vault_keys))
    path = secrets_path(settings)
    if path is None:  # Settings.check() refuses this already; said again for a Settings built by hand
        raise SettingsError(
            f"{PREFIX}KEY_HASH_SECRET and {PREFIX}VAULT_KEYS (or {PREFIX}SECRETS_FILE) are required"
            " off the SQLite default: secrets made up now would be lost at the next start"
        )
    try:
        stored = load_or_create(path)
    except (OSError, ValueError, KeyError) as error:
        raise SettingsError(
            f"{PREFIX}SECRETS_FILE: cannot read or create {str(path)!r} ({type(error).__name__})"
        ) from None
    return ServiceSecrets(
        settings.key_hash_secret.encode() if settings.key_hash_secret else stored.key_hash_secret,
        _vault_keys(settings.vault_keys) if settings.vault_keys else stored.vault_keys,
    )


def _vault_keys(text: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    try:
        FernetVault(keys)
    except ValueError as error:
        raise SettingsError(f"{PREFIX}VAULT_KEYS: {error}") from None
    return keys


def _open_sqlite(settings: Settings) -> SqliteStore:
    """The embedded store; a file that cannot be opened (no such directory, no permission, not a
    database) is a bad setting, said in one line, not a traceback."""
    try:
        return SqliteStore(settings.sqlite_path)
    except (sqlite3.Error, OSError) as error:
        raise SettingsError(
            f"{PREFIX}DATABASE_URL: cannot open the SQLite file {str(settings.sqlite_path)!r}: {error}"
        ) from error


def _open_store(settings: Settings) -> tuple[Store, Callable[[], None]]:
    """The store the settings name, and how to close it."""
    if settings.is_sqlite:
        sqlite = _open_sqlite(settings)
        return sqlite, sqlite.close
    # Imported here: psycopg is the optional `postgres` extra, needed only on this path.
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    pg = PostgresStore(settings.database_url, pool_size=settings.database_pool_size)
    return pg, pg.close


def _schema_check(store: Store) -> Callable[[], str | None]:
    """For /readyz: is a SQLite or PostgreSQL store at this release's newest migration?
    Any other store (an embedder's own, the in-memory one) has no schema to check."""
    if isinstance(store, SqliteStore):
        newest = max((m.version for m in available_migrations()), default=0)
        return _schema_current(store.schema_version, newest)
    # A PostgresStore can exist only once its module (and so psycopg) was imported.
    if "partner_ingest.adapters_out.postgres.store" in sys.modules:
        from partner_ingest.adapters_out.postgres.migrate import available_migrations as postgres_migrations
        from partner_ingest.adapters_out.postgres.store import PostgresStore

        if isinstance(store, PostgresStore):
            newest = max((m.version for m in postgres_migrations()), default=0)
            return _schema_current(store.schema_version, newest)
    return lambda: None


def build(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    rate_limiter: RateLimiter | None = None,
    quota_limiter: RateLimiter | None = None,
    fetcher: FeedFetcher | None = None,
    vault: CredentialVault | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    secrets: ServiceSecrets | None = None,
    formats: FormatRegistry | None = None,
    parsing: FeedParsing | None = None,
) -> Application:
    """The service as `serve` runs it; any part handed in replaces that part alone.

    `settings` default to the `PARTNER_INGEST_*` environment. The defaults: the
    store the settings name (SQLite, or PostgreSQL), with /readyz checking its
    schema; rate limits in Redis when PARTNER_INGEST_REDIS_URL is set (failures
    fail closed, quotas open, Redis in /readyz), in-process otherwise
    (`rate_limiter` replaces both, `quota_limiter` the quotas alone); the HTTP
    fetcher behind the circuit breaker (`fetcher` replaces the HTTP side); the
    Fernet vault over the settings' keys; the system clock; UUID ids; secrets
    from the settings or the secrets file (see `_secrets`); the installed
    formats; parser processes for large feeds.

    `Application.close()` closes what was opened here; what was handed in stays
    open, its owner's to close.
    """
    settings = settings if settings is not None else Settings.from_env()
    closers: list[Callable[[], None]] = []
    clock = clock if clock is not None else SystemClock()
    opened = store is None
    if store is None:
        store, close_store = _open_store(settings)
        closers.append(close_store)
    uow: UnitOfWorkFactory = store.unit_of_work
    ready = _store_ready(uow, _schema_check(store))
    if opened and settings.is_sqlite and settings.min_free_disk_bytes:
        # The SQLite file's own disk: below the floor writes are about to fail with `store_full`.
        ready = _with_disk(ready, settings.sqlite_path.resolve().parent, settings.min_free_disk_bytes)
    grouped_uow: UnitOfWorkFactory | None = None
    if settings.group_commit and isinstance(store, SqliteStore):
        from partner_ingest.adapters_out.sqlite.group_commit import GroupCommit

        group = GroupCommit(store)
        closers.append(group.close)
        grouped_uow = group.unit_of_work
    if rate_limiter is None and settings.redis_url:
        from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

        shared = RedisRateLimiter.from_url(
            settings.redis_url, settings.redis_prefix, on_error=FailurePolicy.CLOSED
        )
        closers.append(shared.close)
        rate_limiter = shared
        quota_limiter = quota_limiter if quota_limiter is not None else shared.with_policy(FailurePolicy.OPEN)
        ready = _with_redis(ready, shared.ping)
    if rate_limiter is None:
        rate_limiter = InProcessRateLimiter(clock)

    if parsing is None and settings.parser_processes != 0:
        processes = ParserProcesses(
            min_bytes=settings.parser_min_bytes, max_processes=settings.parser_processes
        )
        closers.append(processes.close)
        parsing = processes

    def close() -> None:
        for closer in reversed(closers):
            closer()

    try:
        chosen_secrets = secrets if secrets is not None else _secrets(settings)
    except BaseException:
        close()
        raise
    return wire(
        uow,
        store.audit_log,
        secrets_=chosen_secrets,
        formats=formats,
        clock=clock,
        ids=ids,
        rate_limiter=rate_limiter,
        quota_limiter=quota_limiter,
        fetcher=fetcher,
        vault=vault,
        settings=settings,
        close=close,
        ready=ready,
        parsing=parsing,
        grouped_uow=grouped_uow,
    )


def in_memory(
    *, formats: FormatRegistry | None = None, settings: Settings | None = None
) -> tuple[Application, InMemoryStore, FakeClock]:
    """An application on the in-memory store with a fake clock and sequential ids (T1).

    Its secrets are fresh ones kept nowhere: the store they protect dies with the process too.
    """
    store = InMemoryStore()
    clock = FakeClock()
    app = wire(
        store.unit_of_work,
        store.audit_log,
        secrets_=fresh_secrets(),
        formats=formats,
        clock=clock,
        ids=SequentialIds(),
        settings=settings,
    )
    return app, store, clock
