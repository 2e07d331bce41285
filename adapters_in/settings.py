"""Settings: every knob of the service, read from `PARTNER_INGEST_*` environment variables.

Validated once, at start, with a one-line message naming the variable for any
bad value (an operator at night should not have to read a traceback). The
defaults run the embedded service: a SQLite file in the working directory.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import attrs

from partner_ingest.domain.model.errors import InvalidError
from partner_ingest.domain.model.lifecycle import ContractLifecycle, VersionLifecycle, VersionStatus

__all__ = [
    "PREFIX",
    "Settings",
    "SettingsError",
    "contract_lifecycle",
    "describe_settings",
    "networks",
    "ShownSetting",
    "shown_settings",
    "shown_url",
]

PREFIX: Final = "PARTNER_INGEST_"


class SettingsError(InvalidError):
    """A setting has a value the service cannot run with."""

    code = "bad_setting"


def _url_repr(url: str | None) -> str:
    # A URL may carry a password: a logged or printed Settings must not show it.
    return repr(url if url is None else shown_url(url))


@attrs.frozen
class Settings:
    """The service's configuration. Every field maps to `PARTNER_INGEST_<FIELD NAME>`."""

    host: str = "127.0.0.1"
    """Address `serve` listens on."""
    port: int = 8000
    """Port `serve` listens on."""
    database_url: str = attrs.field(default="sqlite:///partner-ingest.db", repr=_url_repr)
    """`sqlite:///relative.db`, `sqlite:////absolute.db`, or `postgresql://...` (schema: `?options=-csearch_path=NAME`)."""
    database_pool_size: int = 10
    """PostgreSQL: most connections one process holds open (a unit of work holds one while it runs)."""
    redis_url: str | None = attrs.field(default=None, repr=_url_repr)
    """When set, rate limits are shared by every instance through Redis."""
    redis_prefix: str = "partner-ingest"
    """Prefix of every Redis key, so that deployments sharing a Redis never mix counters."""
    secrets_file: str | None = None
    """Where the embedded default keeps generated secrets (default: beside the SQLite file)."""
    key_hash_secret: str | None = attrs.field(default=None, repr=False)
    """Server secret for API key hashes (HMAC-SHA256); required with PostgreSQL."""
    vault_keys: str | None = attrs.field(default=None, repr=False)
    """Fernet keys for partner credentials, newest first, comma separated."""
    max_body_bytes: int = 512 * 1024 * 1024
    """Largest feed body accepted at all (after gzip decompression)."""
    max_sync_bytes: int = 16 * 1024 * 1024
    """Largest feed processed synchronously; larger feeds must be sent as jobs."""
    body_threads: int = 2
    """Worker threads (at most, for all requests together) that inflate, hash and spool request bodies off the event loop; more than the CPUs only takes CPU from it."""
    header_timeout_seconds: float = 10.0
    """A connection that has not sent a whole request head this long after it opened (or after its last answer) is closed."""
    keep_alive_seconds: int = 5
    """An idle keep-alive connection is closed after this many seconds without a new request."""
    max_connections: int = 1000
    """Open connections one `serve` process keeps; a request on a connection beyond them is answered 503 `server_busy` and the connection closed."""
    rate_limit_per_minute: int = 60
    """Requests per minute per API key, unless the partner has its own limit."""
    admin_rate_limit_per_minute: int = 60
    """Requests per minute per admin key (operators' scripts may need more than a partner)."""
    auth_failures_per_minute: int = 10
    """Failed authentications per minute per client address before it is blocked."""
    block_seconds: float = 60.0
    """First block of a client that failed authentication too often; doubles for repeat offenders."""
    max_block_seconds: float = 3600.0
    """Longest block of a client that keeps failing authentication."""
    key_cache_seconds: float = 1.0
    """How long an API key this process verified is taken as read (0: read every request); a key revoked, or a partner deactivated, by another process or instance is refused at most this long after (ADR 0045)."""
    trusted_proxies: str = ""
    """CIDR networks whose X-Forwarded-For is believed (comma separated)."""
    job_lease_seconds: float = 60.0
    """How long a worker holds a job without renewing its lease (a dead worker's job waits this long)."""
    job_max_attempts: int = 5
    """Attempts of a job before it is dead (admins retry dead jobs: POST /admin/jobs/{id}/retry)."""
    job_retry_base_seconds: float = 2.0
    """Wait before a failed job's second attempt; doubled for each later one, at most 10 minutes."""
    job_body_retention_seconds: float = 0.0
    """How long the feed body of a succeeded or cancelled job is kept; 0: deleted when the job succeeds."""
    job_body_retention_dead_seconds: float = 7 * 24 * 3600.0
    """How long a dead job's feed body is kept: an admin can retry the job only while it is."""
    job_body_purge_seconds: float = 300.0
    """How often a worker (or `serve`'s) deletes the feed bodies whose retention is over."""
    diagnostics_retention_days: int = 30
    """How long every rejected item of an import is kept (GET /partner/imports/{id}/errors); the worker's purge deletes older ones."""
    web_session_seconds: float = 8 * 3600.0
    """How long a portal or console sign-in lasts; signing out or revoking its key ends it sooner."""
    worker_poll_seconds: float = 1.0
    """How often an idle worker looks for a job."""
    scheduler_poll_seconds: float = 5.0
    """How often the scheduler looks for due schedules."""
    in_process_worker: bool | None = None
    """true: `serve` processes jobs inside its own process; unset: yes with SQLite, no with PostgreSQL."""
    in_process_scheduler: bool | None = None
    """true: `serve` pulls due partner feeds inside its own process; unset: yes with SQLite, no with PostgreSQL."""
    shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long `serve` lets its worker's current job run before releasing it to the queue."""
    fetch_allow_networks: str = ""
    """CIDR networks partner endpoints may resolve to although not public (tests: 127.0.0.0/8)."""
    fetch_timeout_seconds: float = 30.0
    """How long one pull of a partner's feed may take, connection and body included."""
    fetch_max_bytes: int = 512 * 1024 * 1024
    """Largest feed body a pull reads; a larger one fails the pull."""
    breaker_failures: int = 5
    """Consecutive failed pulls of a partner's feed, counted over every process, that open its circuit (ADR 0014)."""
    breaker_reset_seconds: float = 300.0
    """How long an open circuit skips its feed's pulls before one probe is let through (a probe holds it for the fetch timeout plus 60 s at most)."""
    fetch_anomaly_per_hour: int = 60
    """Fetches per partner per hour above which a `fetch_anomaly` is raised (any value, 1 included); one is also raised for 5 or more fetches in an hour at 5 times the partner's usual hourly rate."""
    parser_processes: int | None = None
    """Helper processes that parse and validate large feeds while the ingesting thread writes (ADR 0019); unset: one less than the CPUs, at most 4; 0: every feed is parsed in the ingesting thread."""
    parser_min_bytes: int = 2 * 1024 * 1024
    """Feeds smaller than this are parsed in the ingesting thread (a helper would not pay off)."""
    fast_validator: bool = True
    """Validate the common valid item with generated straight-line code, which gives the reference validator's results faster; false: the reference validator alone (to rule the fast path out while debugging)."""
    webhook_timeout_seconds: float = 10.0
    """Longest a webhook delivery attempt may take (connect, send, answer) before it counts as failed."""
    webhook_retry_base_seconds: float = 30.0
    """Wait before a failed webhook delivery's second attempt; it doubles after each failure, up to an hour."""
    webhook_retry_window_seconds: float = 24 * 3600.0
    """How long after its event a webhook delivery is retried before it is given up (failed)."""
    webhook_disable_after_failures: int = 25
    """Failed delivery attempts in a row (of one partner's webhook) that disable it; the partner or an admin enables it again by setting it."""
    webhook_secret_overlap_seconds: float = 24 * 3600.0
    """After a webhook secret is rotated, how long the old secret keeps signing beside the new one."""
    webhook_delivery_retention_days: int = 30
    """How long a finished webhook delivery (delivered or given up) stays in the partner's delivery log; the worker's purge deletes older ones, never one still to be delivered."""
    contract_lifecycle: str = ""
    """JSON: the status of contract versions that are not current, e.g. `{"1": {"status": "deprecated", "sunset": "2026-06-30", "deprecated_at": "2026-01-15"}}` (status deprecated with a sunset date, or retired); versions not named are current (ADR 0035)."""
    audit_verify_seconds: float = 300.0
    """How often the audit chain is walked for `/metrics` (`partner_ingest_audit_chain_ok`); at most once per interval, on a scrape (ADR 0028)."""
    min_free_disk_bytes: int = 64 * 1024 * 1024
    """SQLite: free space on the database's file system below which `/readyz` reports `disk: low` (503); 0: not checked."""
    retire_max_share: float = 0.2
    """Share of a partner's active products a snapshot feed may retire; one that would retire more is held for an operator (the mass-delete guard, ADR 0036)."""
    retire_max_count: int | None = None
    """How many products a snapshot feed may retire before it is held, whatever the share; unset: no count limit. A snapshot retiring every active product is always held."""
    retired_retention_seconds: float = 90 * 24 * 3600.0
    """How long a retired product is kept (listed with ?retired=true, restored when a feed names it again) before it is purged; its history stays in the audit trail."""
    change_retention_seconds: float = 30 * 24 * 3600.0
    """How long change records (GET /admin/changes, /partner/changes) are kept before workers purge them; a consumer away longer resumes from the oldest kept (ADR 0037)."""
    product_cache: bool = False
    """Read hot products (one SKU, active) through a cache the change feed keeps current, in process or in Redis when PARTNER_INGEST_REDIS_URL is set; a read may then miss the changes of the last PARTNER_INGEST_PRODUCT_CACHE_LAG_SECONDS (ADR 0017)."""
    product_cache_size: int = 10_000
    """Products the in-process cache holds at most (least recently used ones leave first); Redis bounds its own by TTL and maxmemory."""
    product_cache_lag_seconds: float = 1.0
    """The product cache's staleness bound: it is read only while this instance's change-feed follower caught up within this many seconds; otherwise reads go to the store."""
    group_commit: bool = True
    """Feeds sent over HTTP and answered while the sender waits share one transaction and one sync with those sent at the same moment, each answered once its batch is durable (ADR 0039; on PostgreSQL the audit chain's lock is then taken once per batch, ADR 0044); false: one transaction per feed."""
    ingest_process: bool = True
    """With group commit on SQLite, `serve` ingests the feeds answered while their sender waits in a process of their own, beside the one answering HTTP, so the two use two cores (ADR 0047); false: in a thread of the serving process (ADR 0043)."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR."""
    log_format: str = "json"
    """json (one object per line) or text."""

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default."""
        return self.database_url.startswith("sqlite:")

    @property
    def runs_worker(self) -> bool:
        """Does `serve` run a worker in-process? Unset: on the embedded default (SQLite) only,
        since PostgreSQL deployments scale `partner-ingest worker` processes on their own."""
        return self.is_sqlite if self.in_process_worker is None else self.in_process_worker

    @property
    def runs_scheduler(self) -> bool:
        """Does `serve` run the scheduler in-process? Unset: on SQLite only (see `runs_worker`)."""
        return self.is_sqlite if self.in_process_scheduler is None else self.in_process_scheduler

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file of a `sqlite:///path` URL."""
        if not self.is_sqlite:
            raise SettingsError(f"{PREFIX}DATABASE_URL is not a sqlite URL")
        return Path(self.database_url.removeprefix("sqlite:///"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every `PARTNER_INGEST_*` variable; SettingsError for a bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        fields = {f.name: f for f in attrs.fields(cls)}
        for name, field in fields.items():
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _parser_for(field.type)(name, raw)
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k[len(PREFIX) :].lower() not in fields)
        unknown = [k for k in unknown if not k.startswith(PREFIX + "TEST_")]
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]} (see `partner-ingest settings` for the list)")
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules, each with a message naming the setting."""
        self._check_store()
        self._check_bounds()
        self._check_service()

    def _check_store(self) -> None:
        """The database URL, and the secrets every instance sharing a PostgreSQL store needs alike."""
        if not (self.is_sqlite or self.database_url.startswith(("postgresql://", "postgres://"))):
            raise SettingsError(
                f"{PREFIX}DATABASE_URL must start with sqlite:/// or postgresql://, got {self.database_url!r}"
            )
        # Not `str(self.sqlite_path)`: Path("") is ".", which is never empty.
        if self.is_sqlite and not self.database_url.removeprefix("sqlite:///").strip():
            raise SettingsError(f"{PREFIX}DATABASE_URL names no file: use sqlite:///partner-ingest.db")
        if not self.is_sqlite and not self.key_hash_secret:
            raise SettingsError(
                f"{PREFIX}KEY_HASH_SECRET is required with PostgreSQL: every instance must hash API keys alike"
            )
        if not self.is_sqlite and not (self.vault_keys or self.secrets_file):
            raise SettingsError(
                f"{PREFIX}VAULT_KEYS is required with PostgreSQL (or {PREFIX}SECRETS_FILE shared by every instance):"
                " every instance must decrypt partner credentials alike"
            )
        if self.database_pool_size < 1:
            raise SettingsError(
                f"{PREFIX}DATABASE_POOL_SIZE must be at least 1, got {self.database_pool_size}"
            )
        if self.key_hash_secret is not None and len(self.key_hash_secret.encode()) < 32:
            raise SettingsError(
                f"{PREFIX}KEY_HASH_SECRET must be at least 32 bytes long (use 32+ random characters)"
            )

    def _check_bounds(self) -> None:
        """Numbers: ports, periods, sizes, shares and retentions within their ranges."""
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"{PREFIX}PORT must be from 0 to 65535 (0 picks a free one), got {self.port}")
        # Zero would not mean "off" for any of these: it would be refused deep inside
        # (a traceback at start) or make a loop spin; say so here, naming the variable.
        for name in _POSITIVE:
            if not getattr(self, name) > 0:
                raise SettingsError(
                    f"{PREFIX}{name.upper()} must be greater than 0, got {getattr(self, name)}"
                )
        if self.max_block_seconds < self.block_seconds:
            raise SettingsError(f"{PREFIX}MAX_BLOCK_SECONDS cannot be smaller than {PREFIX}BLOCK_SECONDS")
        if self.max_sync_bytes > self.max_body_bytes:
            raise SettingsError(f"{PREFIX}MAX_SYNC_BYTES cannot be larger than {PREFIX}MAX_BODY_BYTES")
        if not 0.0 <= self.retire_max_share <= 1.0:
            raise SettingsError(
                f"{PREFIX}RETIRE_MAX_SHARE must be between 0 and 1, got {self.retire_max_share}"
            )
        for name in (
            "key_cache_seconds",
            "job_body_retention_seconds",
            "job_body_retention_dead_seconds",
            "retired_retention_seconds",
            "change_retention_seconds",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must be 0 or more, got {getattr(self, name)}")
        if self.parser_processes is not None and self.parser_processes < 0:
            raise SettingsError(
                f"{PREFIX}PARSER_PROCESSES must be 0 (off) or more, got {self.parser_processes}"
            )
        if self.min_free_disk_bytes < 0:
            raise SettingsError(
                f"{PREFIX}MIN_FREE_DISK_BYTES must be 0 or more, got {self.min_free_disk_bytes}"
            )

    def _check_service(self) -> None:
        """Redis, logging, networks and the contract lifecycle, as written."""
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"{PREFIX}REDIS_URL must start with redis://, rediss:// or unix://")
        if self.log_format not in ("json", "text"):
            raise SettingsError(f"{PREFIX}LOG_FORMAT must be json or text, got {self.log_format!r}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(
                f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )
        for name in ("trusted_proxies", "fetch_allow_networks"):
            networks(self, name)
        contract_lifecycle(self)


_POSITIVE: Final = (
    "webhook_timeout_seconds",
    "webhook_retry_base_seconds",
    "webhook_retry_window_seconds",
    "webhook_disable_after_failures",
    "webhook_secret_overlap_seconds",
    "max_body_bytes",
    "parser_min_bytes",
    "max_sync_bytes",
    "body_threads",
    "header_timeout_seconds",
    "keep_alive_seconds",
    "max_connections",
    "rate_limit_per_minute",
    "admin_rate_limit_per_minute",
    "auth_failures_per_minute",
    "block_seconds",
    "max_block_seconds",
    "job_lease_seconds",
    "job_max_attempts",
    "job_retry_base_seconds",
    "job_body_purge_seconds",
    "audit_verify_seconds",
    "diagnostics_retention_days",
    "webhook_delivery_retention_days",
    "web_session_seconds",
    "worker_poll_seconds",
    "scheduler_poll_seconds",
    "fetch_timeout_seconds",
    "fetch_max_bytes",
    "breaker_failures",
    "breaker_reset_seconds",
    "fetch_anomaly_per_hour",
    "product_cache_size",
    "product_cache_lag_seconds",
)
"""Settings that must be above zero."""


_QUERY_PASSWORD: Final = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
"""libpq also reads a password from the URL's query (`?password=...`)."""


def shown_url(url: str) -> str:
    """`url` as it may be printed or logged: any password in it (`user:PASSWORD@`, or libpq's
    `?password=`) replaced by `****`, the rest exactly as written. A SQLite URL has none."""
    scheme, separator, rest = url.partition("://")
    if separator:
        end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        authority = rest[:end]
        credentials, at, host = authority.rpartition("@")
        if at and ":" in credentials:
            authority = f"{credentials.partition(':')[0]}:****@{host}"
        url = f"{scheme}://{authority}{rest[end:]}"
    return _QUERY_PASSWORD.sub(r"\1****", url)


def contract_lifecycle(settings: Settings) -> ContractLifecycle:
    """The contract versions' lifecycle from `contract_lifecycle`; SettingsError naming it when malformed."""
    name = f"{PREFIX}CONTRACT_LIFECYCLE"
    text = settings.contract_lifecycle.strip()
    if not text:
        return ContractLifecycle()
    # The contract's rules (and the models they check) only when there is a lifecycle to check:
    # every command reads the settings.
    from partner_ingest.domain.model.rules import CONTRACTS

    try:
        data = json.loads(text)
    except ValueError:
        raise SettingsError(f"{name} must be a JSON object such as {_LIFECYCLE_EXAMPLE}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{name} must be a JSON object such as {_LIFECYCLE_EXAMPLE}")
    entries = []
    for key, value in data.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) in CONTRACTS):
            raise SettingsError(f"{name}: {key!r} is not a contract version (known: {sorted(CONTRACTS)})")
        if not isinstance(value, dict) or set(value) - {"status", "sunset", "deprecated_at"}:
            raise SettingsError(f"{name}: version {key} takes an object of status, sunset, deprecated_at")
        try:
            entries.append(
                VersionLifecycle(
                    int(key),
                    VersionStatus(str(value.get("status"))),
                    sunset=_moment(value.get("sunset")),
                    deprecated_at=_moment(value.get("deprecated_at")),
                )
            )
        except ValueError as error:
            raise SettingsError(
                f"{name}: version {key}: {error} (status: current, deprecated or retired; "
                "dates as 2026-06-30 or 2026-06-30T00:00:00Z)"
            ) from None
    return ContractLifecycle.of(entries)


_LIFECYCLE_EXAMPLE: Final = '{"1": {"status": "deprecated", "sunset": "2026-06-30"}}'


def _moment(value: object) -> datetime | None:
    """A date or ISO 8601 time (UTC when it has no zone), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def networks(settings: Settings, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated CIDR setting, parsed; SettingsError naming it when malformed."""
    text: str = getattr(settings, name)
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"{PREFIX}{name.upper()} has {part!r}, which is not a CIDR network") from None
    return tuple(out)


def _int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name.upper()} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{PREFIX}{name.upper()} must not be negative, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name.upper()} must be a number, got {raw!r}") from None
    if not value >= 0:
        raise SettingsError(f"{PREFIX}{name.upper()} must be a non-negative number, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name.upper()} must be true or false, got {raw!r}")


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _parser_for(kind: object) -> Callable[[str, str], object]:
    text = str(kind)
    if text.startswith("int"):
        return _int
    if text.startswith("float"):
        return _float
    if text.startswith("bool"):
        return _bool
    return _str


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) of every setting, for `partner-ingest settings` and docs."""
    out = []
    defaults = Settings()
    for field in attrs.fields(Settings):
        default = getattr(defaults, field.name)
        shown = "(secret)" if not field.repr else ("" if default is None else str(default))
        out.append((PREFIX + field.name.upper(), shown, _doc(field.name)))
    return out


@attrs.frozen
class ShownSetting:
    """One setting as `partner-ingest settings` shows it: the value in effect and where it came from."""

    variable: str
    value: str
    """As it may be printed: secrets as `(secret)`, URLs without their password."""
    source: str
    """`env` (set in the environment), `file` (a secret read from the secrets file),
    `generated` (a secret the first start writes to the secrets file), or `default`."""
    description: str


def shown_settings(
    settings: Settings, environ: Mapping[str, str], *, secrets_file: Path | None
) -> list[ShownSetting]:
    """Every setting with its value in effect and its source; `secrets_file` is where the embedded
    default keeps the secrets not set in the environment (None: not used)."""
    out = []
    for field in attrs.fields(Settings):
        variable = PREFIX + field.name.upper()
        value = getattr(settings, field.name)
        source = "env" if environ.get(variable) else "default"
        if (
            field.name in ("key_hash_secret", "vault_keys")
            and source == "default"
            and secrets_file is not None
        ):
            source = "file" if secrets_file.exists() else "generated"
        if not field.repr:
            shown = "(secret)" if source != "default" else ""
        elif field.name in ("database_url", "redis_url") and value is not None:
            shown = shown_url(value)
        else:
            shown = "" if value is None else str(value)
        out.append(ShownSetting(variable, shown, source, _doc(field.name)))
    return out


@functools.cache
def _settings_source() -> str:
    # The attribute docstrings above are the documentation; read them from the source, once:
    # inspect tokenizes the module to find the class, which once per setting took seconds.
    import inspect

    return inspect.getsource(Settings)


def _doc(name: str) -> str:
    source = _settings_source()
    marker = f"    {name}:"
    start = source.find(marker)
    if start < 0:
        return ""
    rest = source[start:].split("\n", 2)
    if len(rest) > 1 and rest[1].strip().startswith('"""'):
        return rest[1].strip().strip('"')
    return ""
