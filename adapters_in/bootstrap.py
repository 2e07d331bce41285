"""The composition root: settings in, a wired application out.

With the modules it is made of (wiring.py, wiring_outbound.py, default_ports.py), the only
part of `adapters_in` allowed to import outbound adapters. Every entry point (HTTP app,
worker, scheduler, CLI) gets its wiring from here:

- `build(settings, store=..., ...)`: the service as `serve` runs it. Every port
  can be handed in (store, rate limiters, fetcher, vault, clock, ids, secrets,
  formats, parsing, product cache); whatever is not gets the default the settings describe, so
  an embedder replaces one part without re-wiring the rest;
- `wire(uow, audit, secrets_=...)`: the use cases over ports already chosen, each built
  on its first use (wiring.py and wiring_outbound.py), so a command imports and builds
  only what it uses (ADR 0042);
- `in_memory()`: everything in memory with a fake clock, for tests (T1).

Secrets are never made up and forgotten: they come from the settings, or from
the secrets file, which is created on first start and read on every later one
(API keys hashed under a secret stop working once it is lost). ADR 0032.

What it hands out is `Application` (application.py); the ports the settings describe are
opened by default_ports.py, /readyz's checks are in readiness.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from partner_ingest.adapters_out.system import SystemClock
from partner_ingest.domain.model.policy import FeedLimits

from .application import Application, Readiness
from .default_ports import (
    Ports,
    check_settings,
    group_commit,
    ingest_process,
    parser_processes,
    read_through_cache,
    redis_limiters,
    secrets_path,
    service_secrets,
    store_for,
)
from .readiness import store_ready
from .secrets_file import ServiceSecrets, fresh_secrets
from .settings import Settings
from .wiring import Wiring

if TYPE_CHECKING:
    from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
    from partner_ingest.adapters_out.parser_spawn import SpawnedProcess
    from partner_ingest.domain.use_cases import FeedSubmission
    from partner_ingest.domain.use_cases.product_cache import ProductReadCache
    from partner_ingest.ports import (
        AuditLog,
        Clock,
        CredentialVault,
        FeedFetcher,
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
    from partner_ingest.ports.webhooks import WebhookSender

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
    random_bytes: Callable[[int], bytes] = os.urandom,
    close: Callable[[], None] = lambda: None,
    ready: Callable[[], Readiness] | None = None,
    parsing: FeedParsing | None = None,
    webhook_sender: WebhookSender | None = None,
    grouped_uow: UnitOfWorkFactory | None = None,
    writer: WriteQueue | None = None,
    open_writer: Callable[[], WriteQueue | None] | None = None,
    open_ingest_process: Callable[[], IngestQueue[FeedSubmission] | None] | None = None,
    product_cache: ProductReadCache | None = None,
) -> Application:
    """The use cases over the given ports, each built on its first use (wiring.py); unnamed
    ports get in-process defaults (feeds are parsed in the ingesting thread unless `parsing`
    says otherwise).

    `secrets_` has no default: API keys are hashed under its secret and partner credentials
    encrypted under its vault keys, so secrets made up here would die with the process and take
    every issued key with them. `build` reads them from the settings or the secrets file;
    `in_memory` makes fresh ones for a store that dies with the process anyway. `fetcher` is the
    HTTP side of pulls; it is wrapped in the circuit breaker either way. `random_bytes` is
    the operating system's generator, `os.urandom`, which `secrets.token_bytes` reads too:
    importing `secrets` would load OpenSSL (hashlib) in every command, before any hashing.
    `open_writer` opens the writer (when `writer` is not given) on its first use, once for
    the application and every copy of it (`replacing`).
    """
    ports = Ports.over(
        uow,
        audit,
        settings or Settings(),
        secrets_.vault_keys,
        formats=formats,
        clock=clock,
        ids=ids,
        limits=limits,
        vault=vault,
        random_bytes=random_bytes,
    )
    wired = Wiring(
        ports,
        server_secret=secrets_.key_hash_secret,
        parsing=parsing,
        grouped_uow=grouped_uow,
        writer=writer,
        open_writer=open_writer,
        open_ingest_process=open_ingest_process,
        rate_limiter=rate_limiter,
        quota_limiter=quota_limiter,
        fetcher=fetcher,
        webhook_sender=webhook_sender,
        product_cache=product_cache,
    )
    return Application(
        ready=ready or store_ready(uow),
        parsing=parsing if parsing is not None else _parse_here(),
        close=close,
        lifecycle=ports.lifecycle,
        product_cache=product_cache,
        wired=wired,
        **ports.core(),
    )


def _parse_here() -> FeedParsing:
    """Feeds parsed in the ingesting thread (the pipeline's default)."""
    from partner_ingest.domain.use_cases.pipeline import PARSE_HERE

    return PARSE_HERE


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
    product_cache: ProductCache | None = None,
    start_parser: bool | SpawnedProcess = False,
) -> Application:
    """The service as `serve` runs it; any part handed in replaces that part alone.

    `settings` default to the `PARTNER_INGEST_*` environment. The defaults: the store the
    settings name (SQLite, or PostgreSQL), with /readyz checking its schema; rate limits in Redis
    when PARTNER_INGEST_REDIS_URL is set (failures fail closed, quotas open, Redis in /readyz),
    in-process otherwise (`rate_limiter` replaces both, `quota_limiter` the quotas alone); the HTTP
    fetcher behind the circuit breaker (`fetcher` replaces the HTTP side); the Fernet vault over
    the settings' keys; the system clock; UUID ids; secrets from the settings or the secrets file
    (see `default_ports.service_secrets`); the installed formats; parser processes for large feeds;
    the product cache when PARTNER_INGEST_PRODUCT_CACHE is on, in process and in front of Redis
    when it is set (`product_cache`: a cache of your own, which turns it on; ADR 0017).

    `start_parser` starts a parser process at once, without waiting for it, so that it
    imports the library while the caller prepares its feed (a CLI ingest of a large file
    hashes it meanwhile; ADR 0039); a `SpawnedProcess` (early_parser.py) is one the caller
    started before importing this module, adopted as that one (stopped if `parsing` is
    handed in or the settings turn helpers off).

    `Application.close()` closes what was opened here; what was handed in stays open, its
    owner's to close.
    """
    settings = settings if settings is not None else Settings.from_env()
    own_ports = all(part is None for part in (store, formats, clock, ids, parsing, product_cache))
    closers: list[Callable[[], None]] = []
    if parsing is None:
        parsing = parser_processes(settings, closers, start=start_parser)
    elif not isinstance(start_parser, bool):
        start_parser.abandon()
    clock = clock if clock is not None else SystemClock()
    store, ready = store_for(settings, store, closers)
    if rate_limiter is None and settings.redis_url:
        rate_limiter, quota_limiter, ready = redis_limiters(
            settings, settings.redis_url, quota_limiter, ready, closers
        )

    close = _closing(closers)
    try:
        chosen_secrets = secrets if secrets is not None else service_secrets(settings)
    except BaseException:
        close()
        raise
    return wire(
        store.unit_of_work,
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
        # On its first use (the HTTP server's first answered feed): no other command imports it.
        open_writer=lambda: group_commit(settings, store, closers),
        # The child builds its own ports from the settings alone: not when one is handed in.
        open_ingest_process=(lambda: ingest_process(settings, closers)) if own_ports else None,
        product_cache=read_through_cache(settings, store.unit_of_work, clock, closers, given=product_cache),
    )


def _closing(closers: list[Callable[[], None]]) -> Callable[[], None]:
    """Closes what `closers` hold when it is called, the last opened first, each once.

    Taken off the list one at a time, so a part opened while closing runs (the group-commit
    writer opens on its first use, which a last request can be) is closed too, not missed by
    a pass over the list as it was when closing began."""

    def close() -> None:
        while closers:
            closers.pop()()

    return close


def in_memory(
    *, formats: FormatRegistry | None = None, settings: Settings | None = None
) -> tuple[Application, InMemoryStore, FakeClock]:
    """An application on the in-memory store with a fake clock and sequential ids (T1).

    Its secrets are fresh ones kept nowhere: the store they protect dies with the process too.
    """
    from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds

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
