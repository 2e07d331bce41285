"""Use case: decide whether one request may proceed, from the API key it presents (S1, S3).

The order of the checks is the security design (ADR 0003, 0006, 0015):

1. A blocked client address is refused before anything else: no hashing, no lookup.
2. A key that does not parse (missing, wrong prefix, wrong length, bad checksum) is
   refused without a database lookup.
3. The secret is hashed *before* the lookup, and compared with a dummy hash when the
   id is unknown, so unknown, wrong-secret, revoked and expired keys cost the same
   work and get the same answer (401, same message).
4. Every failed authentication counts against the client address, never against the
   presented key's quota (an attacker must not be able to exhaust a victim's quota by
   presenting its id). Past the failed-authentication limit, the address is blocked,
   doubling for repeat offenders.
5. A valid key spends its own per-minute quota (the partner's override, or the default).
6. A valid key of the wrong role is 403: a partner key on an admin route, or an admin
   key on a partner route (an admin key belongs to no partner to act as).

Every refusal is appended to the standalone audit log (outside any ingest
transaction, so it survives whatever the request does next), with the client
address and the key id when the key parsed, never the presented text.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
from datetime import datetime, timedelta
from typing import Final

import attrs

from partner_ingest.domain.model.api_keys import (
    ApiKey,
    KeyRole,
    ParsedKey,
    Principal,
    hash_secret,
    parse_api_key,
    secrets_match,
    validate_server_secret,
)
from partner_ingest.domain.model.audit import AuditAction, AuditDetail, AuditEntry, Outcome
from partner_ingest.domain.model.partner import Partner
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.rate_limit import RateDecision, RateLimiter
from partner_ingest.ports.repositories import AuditLog
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .access_errors import (
    AccessError,
    ClientBlocked,
    Forbidden,
    KeyRateLimited,
    LimiterUnavailable,
    Unauthenticated,
)
from .verified_keys import VerifiedKeys

__all__ = ["AccessGuard", "AccessLimits", "Granted", "client_bucket"]

WINDOW_SECONDS: Final = 60.0
"""Every limit here is per minute, like `Partner.rate_limit_per_minute`."""

# Compared against when the key id is unknown, so that path does the same work.
_DUMMY_HASH: Final = bytes(32)
_TOUCHED_KEYS: Final = 4096
"""Keys whose last write this process remembers before it forgets them all and starts again."""


_positive_int = attrs.validators.gt(0)
_positive_float = attrs.validators.gt(0.0)


@attrs.frozen
class AccessLimits:
    """The guard's numbers (ADR 0003). Defaults suit a public ingest endpoint."""

    per_key_per_minute: int = attrs.field(default=60, validator=_positive_int)
    """A partner key's quota unless `Partner.rate_limit_per_minute` says otherwise."""
    admin_per_minute: int = attrs.field(default=60, validator=_positive_int)
    failed_auth_per_minute: int = attrs.field(default=10, validator=_positive_int)
    """Failed authentications allowed per client address per minute before it is blocked."""
    block_base_seconds: float = attrs.field(default=60.0, validator=_positive_float)
    block_max_seconds: float = attrs.field(default=3600.0, validator=_positive_float)
    block_forget_seconds: float = attrs.field(default=86400.0, validator=_positive_float)
    """A block that ended longer ago than this no longer doubles the next one."""
    touch_interval_seconds: float = attrs.field(default=60.0, validator=_positive_float)
    """`last_used_at` is written at most this often per key: a write per request would put
    a database write (and, on SQLite, the single writer lock) on every ingest call, to
    learn nothing a minute's precision does not tell."""
    ipv6_prefix: int = attrs.field(default=64, validator=[attrs.validators.ge(1), attrs.validators.le(128)])
    """IPv6 clients are counted per network of this size: one host usually owns a whole /64
    and could otherwise rotate addresses to escape the failed-authentication limit."""


@attrs.frozen
class Granted:
    """The request may proceed as `principal`; `rate` feeds the RateLimit response fields."""

    principal: Principal
    rate: RateDecision
    partner: Partner | None = attrs.field(default=None, eq=False, repr=False)
    """The key's partner as the check read it (None for an admin key): a feed request hands it
    on to the ingest (`FeedSubmission.partner`), which then need not read it again."""


# Every request asks, mostly for the same few addresses: parsing one is a few microseconds.
@functools.lru_cache(maxsize=4096)
def client_bucket(client: str, ipv6_prefix: int = 64) -> str:
    """The address failed authentications are counted against: an IPv4 address as is, an
    IPv6 one as its /64 network (IPv4-mapped IPv6 as the IPv4 address), anything else
    (a unix socket path, a test name) as given, cut to a sane length."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:128]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
    return str(address)


class AccessGuard:
    """Authenticate an API key, apply the rate limits, check the role; audit every refusal.

    `failures` counts failed authentications and holds the blocks: give it a limiter that
    fails CLOSED. `quotas` counts each valid key's requests: it may fail OPEN (its
    decisions then say `degraded`). In one process both can be the same limiter.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        clock: Clock,
        failures: RateLimiter,
        *,
        server_secret: bytes,
        quotas: RateLimiter | None = None,
        limits: AccessLimits | None = None,
        verified: VerifiedKeys | None = None,
        limits_in_process: bool = False,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock
        self._failures = failures
        self._quotas = quotas if quotas is not None else failures
        self._server_secret = validate_server_secret(server_secret)
        self._limits = limits or AccessLimits()
        self._touching = threading.Lock()
        self._touched: dict[str, datetime] = {}
        """When this process last wrote each key's last_used_at (see `_touch`)."""
        self._verified = verified
        """Keys verified a moment ago (ADR 0045); None: every decision reads its key."""
        self._in_process = limits_in_process
        """Both limiters count in this process: a decision from `_verified` waits for nothing."""

    def require(self, presented: str | None, client: str, *, role: KeyRole | None = None) -> Granted:
        """`decide`, raising the refusal (for callers that map exceptions in one place)."""
        outcome = self.decide(presented, client, role=role)
        if isinstance(outcome, AccessError):
            raise outcome
        return outcome

    def decide(
        self, presented: str | None, client: str, *, role: KeyRole | None = None
    ) -> Granted | AccessError:
        """May this request proceed? `presented` is the key text as sent (None when absent),
        `client` the caller's network address, `role` the kind of key the route needs:
        ADMIN for admin routes, PARTNER for partner routes (which act as the key's
        partner), None for any valid key."""
        needs = str(role) if role is not None else "any"
        bucket = client_bucket(client, self._limits.ipv6_prefix)
        parsed = parse_api_key(presented)  # pure, no lookup: even a blocked client's audit names the key id
        blocked = self._failures.blocked_for(_block_key(bucket))
        if blocked > 0 and not self._failures.available:
            # Fail closed, but say why: the client is not blocked, the limits cannot be read.
            details_down: dict[str, AuditDetail] = {"reason": "limiter_unavailable", "needs": needs}
            self._record(AuditAction.AUTH_THROTTLED, client, parsed, details_down)
            return LimiterUnavailable()
        if blocked > 0:
            details: dict[str, AuditDetail] = {"reason": "blocked", "blocked_for": blocked, "needs": needs}
            self._record(AuditAction.AUTH_THROTTLED, client, parsed, details)
            return ClientBlocked(blocked)
        if parsed is None:
            malformed = "malformed" if presented else "missing"
            details = {"reason": malformed, "length": len(presented or ""), "needs": needs}
            return self._failed(bucket, client, None, None, details)

        presented_hash = hash_secret(parsed.secret, self._server_secret)
        now = self._clock.now()
        key, partner, matches = self._read(parsed, presented_hash, now)
        refusal = _refusal(parsed, key, matches, partner, now)
        if refusal is not None or key is None:
            details = {"reason": refusal or "unknown_key", "needs": needs}
            return self._failed(bucket, client, parsed, key, details)

        principal = Principal(role=key.role, partner_id=key.partner_id, key_id=key.id)
        rate = self._quotas.hit(_quota_key(key.id), self._quota(key, partner), WINDOW_SECONDS)
        if not rate.allowed:
            details = {**_rate_details(rate), "needs": needs}
            self._record(AuditAction.RATE_LIMITED, client, parsed, details, principal)
            return KeyRateLimited(principal, rate)
        if role is not None and principal.role is not role:
            # `admin.denied` covers both mismatches (S3's action); `reason` tells them apart.
            details = {"reason": f"not_{role}", "needs": needs}
            self._record(AuditAction.ADMIN_DENIED, client, parsed, details, principal)
            return Forbidden(principal, rate)
        self._touch(key, now)
        return Granted(principal, rate, partner)

    def decide_at_once(
        self, presented: str | None, client: str, *, role: KeyRole | None = None
    ) -> Granted | None:
        """`decide`'s answer when it is a grant that waits for nothing: the key verified a moment
        ago (ADR 0045), both limiters in this process, the role right, the quota not spent and
        no `last_used_at` write due. None otherwise, having counted and written nothing: the
        caller then asks `decide` (in a thread), which answers, counts and audits as always."""
        verified = self._verified
        if verified is None or not self._in_process:
            return None
        parsed = parse_api_key(presented)
        if parsed is None:
            return None
        bucket = client_bucket(client, self._limits.ipv6_prefix)
        if self._failures.blocked_for(_block_key(bucket)) > 0:
            return None
        now = self._clock.now()
        found = verified.get(parsed.key_id, hash_secret(parsed.secret, self._server_secret), now)
        if found is None:
            return None
        key, partner = found
        if _refusal(parsed, key, True, partner, now) is not None:
            return None
        if (role is not None and key.role is not role) or self._touch_due(key, now):
            return None
        rate = self._quotas.hit(_quota_key(key.id), self._quota(key, partner), WINDOW_SECONDS)
        if not rate.allowed:
            return None  # a refused hit is not counted (RateLimiter): `decide` refuses it again
        return Granted(Principal(role=key.role, partner_id=key.partner_id, key_id=key.id), rate, partner)

    def _read(
        self, parsed: ParsedKey, presented_hash: bytes, now: datetime
    ) -> tuple[ApiKey | None, Partner | None, bool]:
        """The key of `parsed`, its partner when the key is usable, and whether the secret matches:
        from the keys verified a moment ago when there, else from the store."""
        verified = self._verified
        if verified is not None:
            found = verified.get(parsed.key_id, presented_hash, now)
            if found is not None:
                return found[0], found[1], True
            generation = verified.generation
        partner: Partner | None = None
        with self._uow(read_only=True) as uow:
            key = uow.api_keys.get(parsed.key_id)
            matches = secrets_match(presented_hash, key.secret_hash if key is not None else _DUMMY_HASH)
            if key is not None and matches and key.usable_at(now) and key.partner_id is not None:
                partner = uow.partners.get(key.partner_id)
        if verified is not None and key is not None and _refusal(parsed, key, matches, partner, now) is None:
            verified.put(key, partner, now, generation)
        return key, partner, matches

    def admit(self, principal: Principal, client: str) -> Granted | AccessError:
        """May a signed-in session of `principal` make one more request? Its key must still be
        usable (not revoked or expired, its partner active: else Unauthenticated, without
        counting a failure, since nothing was guessed), and the key's quota is spent exactly as
        an API call with the key would spend it (ADR 0038)."""
        now = self._clock.now()
        partner: Partner | None = None
        with self._uow(read_only=True) as uow:
            key = uow.api_keys.get(principal.key_id)
            if key is not None and key.partner_id is not None:
                partner = uow.partners.get(key.partner_id)
        if key is None or not key.usable_at(now) or key.role is not principal.role:
            return Unauthenticated()
        if key.role is KeyRole.PARTNER and (partner is None or not partner.active):
            return Unauthenticated()
        rate = self._quotas.hit(_quota_key(key.id), self._quota(key, partner), WINDOW_SECONDS)
        if not rate.allowed:
            details = {**_rate_details(rate), "needs": str(principal.role), "via": "session"}
            self._audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.RATE_LIMITED,
                    outcome=Outcome.DENIED,
                    actor=principal.actor,
                    partner_id=principal.partner_id,
                    client=client,
                    details={"key_id": key.id, **details},
                )
            )
            return KeyRateLimited(principal, rate)
        self._touch(key, now)
        return Granted(principal, rate)

    def _failed(
        self,
        bucket: str,
        client: str,
        parsed: ParsedKey | None,
        key: ApiKey | None,
        details: dict[str, AuditDetail],
    ) -> Unauthenticated | ClientBlocked:
        """Count a failed authentication against the client address; block it past the limit."""
        limits = self._limits
        counted = self._failures.hit(_failure_key(bucket), limits.failed_auth_per_minute, WINDOW_SECONDS)
        blocked = 0.0
        if not counted.allowed:
            blocked = self._failures.block(
                _block_key(bucket),
                limits.block_base_seconds,
                limits.block_max_seconds,
                limits.block_forget_seconds,
            )
        partner_id = key.partner_id if key is not None else None
        if blocked > 0:
            details = {**details, "blocked_for": blocked}
            self._record(AuditAction.AUTH_THROTTLED, client, parsed, details, partner_id=partner_id)
            return ClientBlocked(blocked)
        self._record(AuditAction.AUTH_FAILED, client, parsed, details, partner_id=partner_id)
        return Unauthenticated()

    def _quota(self, key: ApiKey, partner: Partner | None) -> int:
        if key.role is KeyRole.ADMIN:
            return self._limits.admin_per_minute
        if partner is not None and partner.rate_limit_per_minute is not None:
            return partner.rate_limit_per_minute
        return self._limits.per_key_per_minute

    def _touch_due(self, key: ApiKey, now: datetime) -> bool:
        """Would `_touch` write? Read without claiming: `_touch` asks again under its lock, then claims."""
        interval = timedelta(seconds=self._limits.touch_interval_seconds)
        if key.last_used_at is not None and now - key.last_used_at < interval:
            return False
        claimed = self._touched.get(key.id)
        return claimed is None or not timedelta(0) <= now - claimed < interval

    def _touch(self, key: ApiKey, now: datetime) -> None:
        if not self._touch_due(key, now):
            return
        # Concurrent requests of one key all read the stale time before the first write commits:
        # without this claim each would write, and on SQLite each write waits for the write lock
        # behind the feeds being committed (32 connections: 32 writes queued behind the group
        # commit, the slowest answers of a run; ADR 0039). One request per key and interval
        # writes; the others go on at once.
        with self._touching:
            if not self._touch_due(key, now):  # another request claimed it since
                return
            if len(self._touched) >= _TOUCHED_KEYS:
                self._touched.clear()  # a bound, not a cache to keep: the stored time is the judge
            self._touched[key.id] = now
        # Two instances may both write within the same minute; the later write wins, harmlessly.
        with self._uow() as uow:
            uow.api_keys.touch(key.id, now)
            uow.commit()

    def _record(
        self,
        action: AuditAction,
        client: str,
        parsed: ParsedKey | None,
        details: dict[str, AuditDetail],
        principal: Principal | None = None,
        *,
        partner_id: str | None = None,
    ) -> None:
        """Append one refusal to the audit log: never the presented text, only what parsed."""
        if parsed is not None:
            details = {"key_id": parsed.key_id, "key_prefix": parsed.prefix, **details}
        self._audit.append(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                outcome=Outcome.DENIED,
                actor=principal.actor if principal is not None else "anonymous",
                partner_id=principal.partner_id if principal is not None else partner_id,
                client=client,
                details=details,
            )
        )


# Limiter keys. Failures and blocks are per client address; quotas per key id, so a
# failed attempt naming a victim's key id never touches the victim's quota.
def _failure_key(bucket: str) -> str:
    return f"auth-fail:{bucket}"


def _block_key(bucket: str) -> str:
    return f"auth-block:{bucket}"


def _quota_key(key_id: str) -> str:
    return f"key:{key_id}"


def _rate_details(rate: RateDecision) -> dict[str, AuditDetail]:
    return {"limit": rate.limit, "retry_after": round(rate.retry_after, 3), "degraded": rate.degraded}


def _refusal(
    parsed: ParsedKey, key: ApiKey | None, matches: bool, partner: Partner | None, now: datetime
) -> str | None:
    """Why a well-formed key is refused (for the audit only: the caller answers alike), or None."""
    if key is None:
        return "unknown_key"
    if not matches:
        return "wrong_secret"
    # The prefix is not covered by the hash: a partner could rewrite `pcik_` as `pcia_` and
    # recompute the public checksum. The stored role is the only one that counts.
    if parsed.role is not key.role:
        return "wrong_role_prefix"
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if not key.usable_at(now):
        return "expired"
    if key.role is KeyRole.PARTNER and (partner is None or not partner.active):
        return "partner_inactive"
    return None
