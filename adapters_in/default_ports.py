"""The ports the settings describe, for `build` (ADR 0032): the store and its readiness, rate
limits in Redis, group commit, parser processes, and the service's secrets; and `Ports`, the
ports handed to `wire` with the defaults for those not, which every area's use cases are
built over (wiring.py, wiring_outbound.py).

Invariant: whatever is opened here is registered with the `closers` it is given, so
`Application.close()` closes it; a bad setting is a `SettingsError` naming the variable, said
before anything is opened where it can be; secrets are never made up and forgotten (they come
from the settings, or from the secrets file, created on first start and read on every later one).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import attrs

from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.system import SystemClock, UuidIds
from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.policy import FeedLimits

if TYPE_CHECKING:
    from partner_ingest.adapters_out.parser_spawn import SpawnedProcess
    from partner_ingest.adapters_out.sqlite.store import SqliteStore
    from partner_ingest.domain.use_cases import FeedSubmission
    from partner_ingest.domain.use_cases.product_cache import ProductReadCache
    from partner_ingest.ports import (
        AuditLog,
        Clock,
        CredentialVault,
        FeedParsing,
        FormatRegistry,
        IdSource,
        IngestQueue,
        ProductCache,
        RateLimiter,
        Store,
        UnitOfWorkFactory,
        WriteQueue,
    )
    from partner_ingest.ports.formats import FeedFormat

from .application import Readiness
from .readiness import schema_current, store_ready, with_disk, with_redis
from .secrets_file import ServiceSecrets, load_or_create
from .settings import PREFIX, Settings, SettingsError, contract_lifecycle, networks

__all__ = [
    "CorePorts",
    "DeferredFormats",
    "Ports",
    "check_settings",
    "group_commit",
    "ingest_process",
    "parser_processes",
    "redis_limiters",
    "secrets_path",
    "service_secrets",
    "store_for",
]

Closers = list[Callable[[], None]]
"""What was opened, to be closed the last opened first (`Application.close`)."""


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


def service_secrets(settings: Settings) -> ServiceSecrets:
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
    from partner_ingest.adapters_out.sqlite.store import SqliteStore

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
    from partner_ingest.adapters_out.sqlite.store import SqliteStore

    if isinstance(store, SqliteStore):
        from partner_ingest.adapters_out.sqlite.migrate import available_migrations

        newest = max((m.version for m in available_migrations()), default=0)
        return schema_current(store.schema_version, newest)
    # A PostgresStore can exist only once its module (and so psycopg) was imported.
    if "partner_ingest.adapters_out.postgres.store" in sys.modules:
        from partner_ingest.adapters_out.postgres.migrate import available_migrations as postgres_migrations
        from partner_ingest.adapters_out.postgres.store import PostgresStore

        if isinstance(store, PostgresStore):
            newest = max((m.version for m in postgres_migrations()), default=0)
            return schema_current(store.schema_version, newest)
    return lambda: None


def store_for(
    settings: Settings, store: Store | None, closers: Closers
) -> tuple[Store, Callable[[], Readiness]]:
    """The store handed in, or the one the settings name (opened here, closed by `closers`), and
    its readiness: reachable, schema current, and room on the SQLite file's disk."""
    opened = store is None
    if store is None:
        store, close_store = _open_store(settings)
        closers.append(close_store)
    ready = store_ready(store.unit_of_work, _schema_check(store))
    if opened and settings.is_sqlite and settings.min_free_disk_bytes:
        # The SQLite file's own disk: below the floor writes are about to fail with `store_full`.
        ready = with_disk(ready, settings.sqlite_path.resolve().parent, settings.min_free_disk_bytes)
    return store, ready


def redis_limiters(
    settings: Settings,
    url: str,
    quota_limiter: RateLimiter | None,
    ready: Callable[[], Readiness],
    closers: Closers,
) -> tuple[RateLimiter, RateLimiter, Callable[[], Readiness]]:
    """Rate limits shared in Redis: failures fail closed, quotas open (unless `quota_limiter`
    replaces them), and Redis answering is part of readiness (ADR 0015)."""
    from partner_ingest.adapters_out.rate_limit.redis import RedisRateLimiter
    from partner_ingest.ports.rate_limit import FailurePolicy  # with Redis only (ADR 0042)

    shared = RedisRateLimiter.from_url(url, settings.redis_prefix, on_error=FailurePolicy.CLOSED)
    closers.append(shared.close)
    quotas = quota_limiter if quota_limiter is not None else shared.with_policy(FailurePolicy.OPEN)
    return shared, quotas, with_redis(ready, shared.ping)


def group_commit(settings: Settings, store: Store, closers: Closers) -> WriteQueue | None:
    """The writer thread whose batches commit the feeds answered while their sender waits
    (ADR 0039, 0043; on PostgreSQL ADR 0044); None with group commit off (a transaction per feed)."""
    from partner_ingest.adapters_out.sqlite.store import SqliteStore

    if not settings.group_commit:
        return None
    if isinstance(store, SqliteStore):
        from partner_ingest.adapters_out.sqlite.writer import SqliteWriter

        sqlite_writer = SqliteWriter(store)
        closers.append(sqlite_writer.close)
        return sqlite_writer
    if settings.is_sqlite:  # another store handed in; psycopg (an extra) may not be installed
        return None
    from partner_ingest.adapters_out.postgres.store import PostgresStore
    from partner_ingest.adapters_out.postgres.writer import PostgresWriter

    if not isinstance(store, PostgresStore):
        return None
    postgres_writer = PostgresWriter(store)
    closers.append(postgres_writer.close)
    return postgres_writer


def ingest_process(settings: Settings, closers: Closers) -> IngestQueue[FeedSubmission] | None:
    """The ingest process of the feeds answered while their sender waits, on SQLite with group
    commit (ADR 0047); None with it off (they go to the writer thread, ADR 0043). Its child
    starts on the first feed, or when `serve` warms it before it takes requests."""
    if not (settings.ingest_process and settings.group_commit and settings.is_sqlite):
        return None
    import pickle

    from partner_ingest.adapters_out.call_process import CallProcess

    from .ingest_queues import ProcessIngest, open_ingest

    calls = CallProcess(pickle.dumps((open_ingest, settings), protocol=pickle.HIGHEST_PROTOCOL))
    closers.append(calls.close)
    return ProcessIngest(calls)


def parser_processes(
    settings: Settings, closers: Closers, *, start: bool | SpawnedProcess = False
) -> FeedParsing | None:
    """Parser processes for large feeds, as the settings size them; None when they are off (ADR 0019).

    With `start`, one is started at once, without waiting for it, so that it imports the library
    while the caller prepares its feed (a CLI ingest hashes its file meanwhile; ADR 0039); a
    `SpawnedProcess` is one the caller started already (early_parser.py), adopted as that one."""
    spawned = None if isinstance(start, bool) else start
    if settings.parser_processes == 0:
        if spawned is not None:
            spawned.abandon()
        return None
    from partner_ingest.adapters_out.parser_processes import ParserProcesses

    processes = ParserProcesses(min_bytes=settings.parser_min_bytes, max_processes=settings.parser_processes)
    closers.append(processes.close)
    if start is not False:
        processes.warm(wait=False, spawned=spawned)
    return processes


class CorePorts(TypedDict):
    uow: UnitOfWorkFactory
    audit: AuditLog
    formats: FormatRegistry
    clock: Clock
    ids: IdSource
    limits: FeedLimits
    vault: CredentialVault
    settings: Settings


@attrs.frozen
class Ports:
    """The ports and shared parts every area's use cases are built over."""

    uow: UnitOfWorkFactory
    audit: AuditLog
    formats: FormatRegistry
    clock: Clock
    ids: IdSource
    limits: FeedLimits
    vault: CredentialVault
    settings: Settings
    random_bytes: Callable[[int], bytes]
    addresses: AddressPolicy
    """One policy for pulls, webhooks and configuring endpoints, so all refuse the same addresses."""
    lifecycle: ContractLifecycle

    @classmethod
    def over(
        cls,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        settings: Settings,
        vault_keys: tuple[str, ...],
        *,
        formats: FormatRegistry | None,
        clock: Clock | None,
        ids: IdSource | None,
        limits: FeedLimits | None,
        vault: CredentialVault | None,
        random_bytes: Callable[[int], bytes],
    ) -> Ports:
        """The ports given, and the defaults for those not: the installed formats, the system
        clock, UUID ids, the default feed limits, the Fernet vault over `vault_keys`. The
        installed formats are found when first asked for (`DeferredFormats`)."""
        clock = clock if clock is not None else SystemClock()
        ids = ids if ids is not None else UuidIds()
        return cls(
            uow=uow,
            audit=audit,
            formats=formats if formats is not None else DeferredFormats(),
            clock=clock,
            ids=ids,
            limits=limits or FeedLimits(),
            vault=vault if vault is not None else FernetVault(vault_keys),
            settings=settings,
            random_bytes=random_bytes,
            addresses=AddressPolicy(allowed=networks(settings, "fetch_allow_networks")),
            lifecycle=contract_lifecycle(settings),
        )

    def core(self) -> CorePorts:
        """The ports `Application` carries as they are."""
        return CorePorts(
            uow=self.uow,
            audit=self.audit,
            formats=self.formats,
            clock=self.clock,
            ids=self.ids,
            limits=self.limits,
            vault=self.vault,
            settings=self.settings,
        )


def read_through_cache(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    closers: Closers,
    *,
    given: ProductCache | None = None,
) -> ProductReadCache | None:
    """The read-through product cache over `given`, else the one the settings ask for (ADR 0017):
    a bounded LRU in this process, in front of one shared through Redis when
    PARTNER_INGEST_REDIS_URL is set."""
    if given is None and not settings.product_cache:
        return None
    from partner_ingest.adapters_out.product_cache import InProcessProductCache, TieredProductCache
    from partner_ingest.domain.use_cases.product_cache import ProductReadCache

    if given is not None:
        return ProductReadCache(uow, given, clock, lag_seconds=settings.product_cache_lag_seconds)
    near = InProcessProductCache(settings.product_cache_size)
    cache: ProductCache = near
    if settings.redis_url:
        from partner_ingest.adapters_out.product_cache.redis import RedisProductCache

        shared = RedisProductCache.from_url(settings.redis_url, settings.redis_prefix)
        closers.append(shared.close)
        cache = TieredProductCache(near, shared)
    return ProductReadCache(uow, cache, clock, lag_seconds=settings.product_cache_lag_seconds)


class DeferredFormats:
    """The installed formats (built-in and the plugins' entry points), found when first asked
    for: finding them imports every format's parser and reads every installed distribution's
    entry points, which a command that never parses a feed does without (ADR 0042)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: FormatRegistry | None = None

    @property
    def registry(self) -> FormatRegistry:
        """The formats, found on the first call (by one thread; the others wait for it)."""
        found = self._found
        if found is None:
            with self._lock:
                if self._found is None:
                    from partner_ingest.plugins import load_formats

                    self._found = load_formats()
                found = self._found
        return found

    def get(self, name: str, version: int) -> FeedFormat:
        return self.registry.get(name, version)

    def name_for_media_type(self, media_type: str) -> str:
        return self.registry.name_for_media_type(media_type)

    def versions(self, name: str) -> Sequence[int]:
        return self.registry.versions(name)

    def all(self) -> Sequence[FeedFormat]:
        return self.registry.all()

    def media_types(self) -> Sequence[str]:
        return self.registry.media_types()
