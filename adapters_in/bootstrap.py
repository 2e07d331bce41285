"""The composition root: settings in, a wired application out.

The only module of `adapters_in` allowed to import outbound adapters. Every
entry point (HTTP app, worker, scheduler, CLI) gets its wiring from here:

- `build(settings)`: the service, on the store the settings name;
- `wire(uow, audit, ...)`: the use cases over ports an embedder supplies;
- `in_memory()`: everything in memory with a fake clock, for tests (T1).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import attrs

from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.system import SystemClock, UuidIds
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, ValidateFeed
from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
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
from partner_ingest.ports.rate_limit import FailurePolicy

from .secrets_file import ServiceSecrets, load_or_create
from .settings import Settings

__all__ = ["Application", "build", "in_memory", "validate_against_contract", "wire"]


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
    describe_contract: DescribeContract
    validate: ValidateFeed
    guard: AccessGuard
    keys: ManageKeys
    settings: Settings = attrs.field(factory=Settings)
    close: Callable[[], None] = lambda: None
    """Release connections and pools (call once, at shutdown)."""


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
) -> Application:
    """Build the use cases over the given ports; unnamed ones get in-process defaults."""
    settings = settings or Settings()
    formats = formats if formats is not None else load_formats()
    clock = clock if clock is not None else SystemClock()
    ids = ids if ids is not None else UuidIds()
    limits = limits or FeedLimits()
    secrets_ = secrets_ or ServiceSecrets(random_bytes(32), (FernetVault.generate_key(),))
    failures = rate_limiter if rate_limiter is not None else InProcessRateLimiter(clock)
    access = AccessLimits(
        per_key_per_minute=settings.rate_limit_per_minute,
        failed_auth_per_minute=settings.auth_failures_per_minute,
        block_base_seconds=settings.block_seconds,
        block_max_seconds=settings.max_block_seconds,
    )
    return Application(
        uow=uow,
        audit=audit,
        formats=formats,
        clock=clock,
        ids=ids,
        limits=limits,
        vault=FernetVault(secrets_.vault_keys),
        ingest=IngestFeed(uow, formats, clock, ids, limits=limits),
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
        settings=settings,
        close=close,
    )


def _secrets(settings: Settings) -> ServiceSecrets:
    if settings.key_hash_secret and settings.vault_keys:
        return ServiceSecrets(settings.key_hash_secret.encode(), tuple(settings.vault_keys.split(",")))
    path = (
        Path(settings.secrets_file)
        if settings.secrets_file
        else settings.sqlite_path.with_suffix(".secrets.json")
    )
    stored = load_or_create(path)
    return ServiceSecrets(
        settings.key_hash_secret.encode() if settings.key_hash_secret else stored.key_hash_secret,
        tuple(settings.vault_keys.split(",")) if settings.vault_keys else stored.vault_keys,
    )


def build(settings: Settings) -> Application:
    """The service as the settings describe it (SQLite by default; PostgreSQL and Redis when set)."""
    closers: list[Callable[[], None]] = []
    clock = SystemClock()
    if settings.is_sqlite:
        store = SqliteStore(settings.sqlite_path)
        closers.append(store.close)
        uow: UnitOfWorkFactory = store.unit_of_work
        audit: AuditLog = store.audit_log
    else:
        from partner_ingest.adapters_out.postgres.store import (  # type: ignore[import-not-found]
            PostgresStore,
        )

        pg = PostgresStore(settings.database_url)
        closers.append(pg.close)
        uow, audit = pg.unit_of_work, pg.audit_log
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
) -> IngestReport:
    """Check a feed against the published contract, with no database (I1).

    The report is the one the server would give, with every valid item counted
    as created.
    """
    validate = ValidateFeed(formats if formats is not None else load_formats())
    return validate(
        document,
        format=format,
        media_type=media_type,
        version=version,
        policy=ValidationPolicy(mode=Mode(mode)),
    )
