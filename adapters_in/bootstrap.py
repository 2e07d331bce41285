"""The composition root: settings in, a wired application out.

The only module of `adapters_in` allowed to import outbound adapters. Every
entry point (HTTP app, worker, scheduler, CLI) gets its wiring from here:

- `build(settings)`: the service, on the store the settings name;
- `wire(uow, audit, ...)`: the use cases over ports an embedder supplies;
- `in_memory()`: everything in memory with a fake clock, for tests (T1).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import attrs

from partner_ingest.adapters_out.cron import CronsimRules
from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.fetcher import (
    AddressPolicy,
    CircuitBreakerFetcher,
    FetchLimits,
    HttpFeedFetcher,
)
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.parser_processes import ParserProcesses
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.adapters_out.sqlite.migrate import available_migrations
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.system import SystemClock, UuidIds
from partner_ingest.domain.model.circuits import BreakerPolicy
from partner_ingest.domain.model.jobs import BodyRetention
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.model.retirement import RetirementGuard
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, SettleHeldFeeds, ValidateFeed
from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits
from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
from partner_ingest.domain.use_cases.job_bodies import PurgeJobBodies
from partner_ingest.domain.use_cases.jobs import ProcessNextJob, QueryJobs, SubmitFeedJob
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.manage_partners import ManagePartners
from partner_ingest.domain.use_cases.manage_schedules import ManageSchedules, RotateCredentials
from partner_ingest.domain.use_cases.pull_feeds import AnomalyRule, PullDueFeeds
from partner_ingest.domain.use_cases.query_audit import QueryAudit
from partner_ingest.domain.use_cases.read_changes import ReadChanges
from partner_ingest.domain.use_cases.read_imports import ReadImports, ReadProducts
from partner_ingest.domain.use_cases.retired_products import PurgeChanges, PurgeRetiredProducts
from partner_ingest.plugins import load_formats
from partner_ingest.ports import (
    AuditLog,
    Clock,
    CredentialVault,
    FormatRegistry,
    IdSource,
    RateLimiter,
    UnitOfWorkFactory,
)
from partner_ingest.ports.parsing import FeedParsing
from partner_ingest.ports.rate_limit import FailurePolicy

from .secrets_file import ServiceSecrets, load_or_create
from .settings import PREFIX, Settings, SettingsError, networks

__all__ = ["Application", "Readiness", "build", "in_memory", "validate_against_contract", "wire"]


@attrs.frozen
class Readiness:
    """Can this instance serve requests now? `checks` says what was looked at (for /readyz)."""

    ready: bool
    checks: dict[str, str]


@attrs.frozen
class Application:
    """Ports and use cases, wired. Entry points hold one of these and nothing global."""

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
    changes: ReadChanges
    """The change feed by cursor (ADR 0037): for the HTTP API and for embedders."""
    old_changes: PurgeChanges
    """Purge the products retired longer than the retention (workers call `purge_expired`)."""
    describe_contract: DescribeContract
    validate: ValidateFeed
    guard: AccessGuard
    keys: ManageKeys
    # --- jobs and scheduled pulls (issue 5) ---
    submit_job: SubmitFeedJob
    process_next_job: ProcessNextJob
    jobs: QueryJobs
    job_bodies: PurgeJobBodies
    """Deletes the feed bodies of finished jobs as the retention settings say; what is kept (metrics)."""
    fetcher: CircuitBreakerFetcher
    pull_feeds: PullDueFeeds
    schedules: ManageSchedules
    rotate_credentials: RotateCredentials
    fetch_health: ReadFetchHealth
    """Circuit states per partner feed (as the store holds them) and recent fetch anomalies (admins, metrics)."""
    # --- HTTP delivery (issue 4): admin use cases, a partner's own reads, readiness ---
    partners: ManagePartners
    audit_trail: QueryAudit
    imports: ReadImports
    products: ReadProducts
    ready: Callable[[], Readiness]
    """Database reachable and schema current (never raises)."""
    settings: Settings = attrs.field(factory=Settings)
    close: Callable[[], None] = lambda: None
    """Release connections and pools (call once, at shutdown)."""

    def purge_expired(self) -> int:
        """What a worker deletes every `job_body_purge_seconds`: the feed bodies and the retired
        products whose retention is over; how many."""
        return self.job_bodies() + self.retired_products() + self.old_changes()


def wire(
    uow: UnitOfWorkFactory,
    audit: AuditLog,
    *,
    formats: FormatRegistry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    limits: FeedLimits | None = None,
    rate_limiter: RateLimiter | None = None,
    quota_limiter: RateLimiter | None = None,
    secrets_: ServiceSecrets | None = None,
    settings: Settings | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    close: Callable[[], None] = lambda: None,
    ready: Callable[[], Readiness] | None = None,
    parsing: FeedParsing | None = None,
) -> Application:
    """Build the use cases over the given ports; unnamed ones get in-process defaults
    (feeds are parsed in the ingesting thread unless `parsing` says otherwise)."""
    settings = settings or Settings()
    formats = formats if formats is not None else load_formats()
    clock = clock if clock is not None else SystemClock()
    ids = ids if ids is not None else UuidIds()
    limits = limits or FeedLimits()
    secrets_ = secrets_ or ServiceSecrets(random_bytes(32), (FernetVault.generate_key(),))
    failures = rate_limiter if rate_limiter is not None else InProcessRateLimiter(clock)
    access = AccessLimits(
        per_key_per_minute=settings.rate_limit_per_minute,
        admin_per_minute=settings.admin_rate_limit_per_minute,
        failed_auth_per_minute=settings.auth_failures_per_minute,
        block_base_seconds=settings.block_seconds,
        block_max_seconds=settings.max_block_seconds,
    )
    guard = RetirementGuard(settings.retire_max_share, settings.retire_max_count)
    ingest = IngestFeed(uow, formats, clock, ids, limits=limits, parsing=parsing, guard=guard)
    vault = FernetVault(secrets_.vault_keys)
    submit_job = SubmitFeedJob(uow, formats, clock, ids, max_attempts=settings.job_max_attempts)
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
    fetcher = CircuitBreakerFetcher(
        HttpFeedFetcher(
            policy=addresses,
            limits=FetchLimits(
                total_timeout=settings.fetch_timeout_seconds,
                read_timeout=min(30.0, settings.fetch_timeout_seconds),
                max_bytes=settings.fetch_max_bytes,
                max_decoded_bytes=settings.fetch_max_bytes,
            ),
            clock=clock,
        ),
        uow,
        clock,
        BreakerPolicy(
            failure_threshold=settings.breaker_failures,
            reset_after=timedelta(seconds=settings.breaker_reset_seconds),
            # A probe cannot take longer than a fetch may; the margin covers the store's round trips.
            probe_lease=timedelta(seconds=settings.fetch_timeout_seconds + 60),
        ),
    )
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
        describe_contract=DescribeContract(formats),
        validate=ValidateFeed(formats, limits=limits),
        guard=AccessGuard(
            uow,
            audit,
            clock,
            failures,
            quotas=quota_limiter,
            server_secret=secrets_.key_hash_secret,
            limits=access,
        ),
        keys=ManageKeys(uow, clock, server_secret=secrets_.key_hash_secret, random_bytes=random_bytes),
        submit_job=submit_job,
        process_next_job=ProcessNextJob(
            uow, ingest, clock, ids, lease_seconds=settings.job_lease_seconds, bodies=job_bodies
        ),
        jobs=QueryJobs(uow, clock),
        job_bodies=job_bodies,
        fetcher=fetcher,
        pull_feeds=PullDueFeeds(
            uow,
            audit,
            fetcher,
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
        # --- HTTP delivery (issue 4) ---
        partners=ManagePartners(uow, clock, vault, formats, addresses=addresses),
        audit_trail=QueryAudit(audit),
        imports=ReadImports(uow),
        products=ReadProducts(uow),
        ready=ready or _store_ready(uow),
        settings=settings,
        close=close,
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


def _schema_current(version: Callable[[], int], newest: int) -> Callable[[], str | None]:
    """A schema check for `_store_ready`: None while the store is at this release's newest migration."""

    def check() -> str | None:
        current = version()
        return None if current == newest else f"at migration {current}, this release needs {newest}"

    return check


def _secrets(settings: Settings) -> ServiceSecrets:
    if settings.key_hash_secret and settings.vault_keys:
        return ServiceSecrets(settings.key_hash_secret.encode(), _vault_keys(settings.vault_keys))
    path = (
        Path(settings.secrets_file)
        if settings.secrets_file
        else settings.sqlite_path.with_suffix(".secrets.json")
    )
    stored = load_or_create(path)
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


def build(settings: Settings) -> Application:
    """The service as the settings describe it (SQLite by default; PostgreSQL and Redis when set)."""
    closers: list[Callable[[], None]] = []
    clock = SystemClock()
    if settings.is_sqlite:
        store = _open_sqlite(settings)
        closers.append(store.close)
        uow: UnitOfWorkFactory = store.unit_of_work
        audit: AuditLog = store.audit_log
        newest = max((m.version for m in available_migrations()), default=0)
        ready = _store_ready(uow, _schema_current(store.schema_version, newest))  # /readyz checks migrations
    else:
        # Imported here: psycopg is the optional `postgres` extra, needed only on this path.
        from partner_ingest.adapters_out.postgres.migrate import available_migrations as postgres_migrations
        from partner_ingest.adapters_out.postgres.store import PostgresStore

        pg = PostgresStore(settings.database_url, pool_size=settings.database_pool_size)
        closers.append(pg.close)
        uow, audit = pg.unit_of_work, pg.audit_log
        newest = max((m.version for m in postgres_migrations()), default=0)
        ready = _store_ready(uow, _schema_current(pg.schema_version, newest))
    failures: RateLimiter = InProcessRateLimiter(clock)
    quotas: RateLimiter | None = None
    if settings.redis_url:
        from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter

        shared = RedisRateLimiter.from_url(
            settings.redis_url, settings.redis_prefix, on_error=FailurePolicy.CLOSED
        )
        closers.append(shared.close)
        failures = shared
        quotas = shared.with_policy(FailurePolicy.OPEN)
        ready = _with_redis(ready, shared.ping)

    parsing = None
    if settings.parser_processes != 0:
        parsing = ParserProcesses(
            min_bytes=settings.parser_min_bytes, max_processes=settings.parser_processes
        )
        closers.append(parsing.close)

    def close() -> None:
        for closer in reversed(closers):
            closer()

    return wire(
        uow,
        audit,
        clock=clock,
        rate_limiter=failures,
        quota_limiter=quotas,
        secrets_=_secrets(settings),
        settings=settings,
        close=close,
        ready=ready,
        parsing=parsing,
    )


def in_memory(
    *, formats: FormatRegistry | None = None, settings: Settings | None = None
) -> tuple[Application, InMemoryStore, FakeClock]:
    """An application on the in-memory store with a fake clock and sequential ids (T1)."""
    store = InMemoryStore()
    clock = FakeClock()
    app = wire(
        store.unit_of_work,
        store.audit_log,
        formats=formats,
        clock=clock,
        ids=SequentialIds(),
        settings=settings,
    )
    return app, store, clock


def validate_against_contract(
    document: bytes | BinaryIO,
    *,
    format: str | None = None,
    media_type: str | None = None,
    version: int = 1,
    mode: Mode | str = Mode.STRICT,
    formats: FormatRegistry | None = None,
    currency: str | None = None,
) -> IngestReport:
    """Check a feed against the published contract, with no database (I1).

    The report is the one the server would give, with every valid item counted
    as created. `currency` stands in for the partner's currency setting (formats
    whose documents carry none need it).
    """
    validate = ValidateFeed(formats if formats is not None else load_formats())
    return validate(
        document,
        format=format,
        media_type=media_type,
        version=version,
        policy=ValidationPolicy(mode=Mode(mode)),
        currency=currency,
    )
