"""AccessGuard on the in-memory store with a fake clock: scenarios S1 and S3.

The counting unit-of-work factory and the unreachable limiter below are
hand-written fakes over the real in-memory adapters, not mocks.
"""

from __future__ import annotations

import secrets
import zlib
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.domain.model.api_keys import ApiKey, KeyRole, new_api_key
from partner_ingest.domain.model.audit import AuditAction, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.use_cases.access_errors import (
    AccessError,
    ClientBlocked,
    Forbidden,
    KeyRateLimited,
    LimiterUnavailable,
    Unauthenticated,
)
from partner_ingest.domain.use_cases.authenticate import AccessGuard, AccessLimits, Granted, client_bucket
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.verified_keys import VerifiedKeys
from partner_ingest.ports.diagnostics import DiagnosticRepository
from partner_ingest.ports.rate_limit import FailurePolicy, RateDecision, RateLimiter
from partner_ingest.ports.repositories import (
    ApiKeyRepository,
    AuditLog,
    ChangeFeed,
    CircuitRepository,
    FeedImportLedger,
    FeedSkuRegister,
    HeldFeedRepository,
    IdempotencyKeyRepository,
    JobRepository,
    PartnerRepository,
    ProductRepository,
    ScheduleRepository,
    WebhookRepository,
    WebSessionRepository,
)
from partner_ingest.ports.unit_of_work import UnitOfWork

SERVER_SECRET = b"k" * 32
ATTACKER = "203.0.113.7"
PARTNER_HOST = "198.51.100.20"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# --- fakes ------------------------------------------------------------------------


class CountingApiKeys:
    """The memory key repository, counting lookups."""

    def __init__(self, inner: ApiKeyRepository, counter: CountingUnitOfWorkFactory) -> None:
        self._inner = inner
        self._counter = counter

    def add(self, key: ApiKey) -> None:
        self._inner.add(key)

    def get(self, key_id: str) -> ApiKey | None:
        self._counter.key_lookups += 1
        return self._inner.get(key_id)

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        return self._inner.for_partner(partner_id)

    def revoke(self, key_id: str, at: datetime) -> bool:
        return self._inner.revoke(key_id, at)

    def touch(self, key_id: str, at: datetime) -> None:
        self._inner.touch(key_id, at)

    def count(self) -> int:
        return self._inner.count()

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        return self._inner.active_admin_keys(now)


class CountingUnitOfWork:
    """A memory unit of work whose key repository counts lookups."""

    def __init__(self, inner: UnitOfWork, counter: CountingUnitOfWorkFactory) -> None:
        self._inner = inner
        self._keys = CountingApiKeys(inner.api_keys, counter)

    @property
    def api_keys(self) -> ApiKeyRepository:
        return self._keys

    @property
    def partners(self) -> PartnerRepository:
        return self._inner.partners

    @property
    def products(self) -> ProductRepository:
        return self._inner.products

    @property
    def feed_skus(self) -> FeedSkuRegister:
        return self._inner.feed_skus

    @property
    def imports(self) -> FeedImportLedger:
        return self._inner.imports

    @property
    def held_feeds(self) -> HeldFeedRepository:
        return self._inner.held_feeds

    @property
    def changes(self) -> ChangeFeed:
        return self._inner.changes

    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository:
        return self._inner.idempotency_keys

    @property
    def jobs(self) -> JobRepository:
        return self._inner.jobs

    @property
    def schedules(self) -> ScheduleRepository:
        return self._inner.schedules

    @property
    def audit(self) -> AuditLog:
        return self._inner.audit

    @property
    def circuits(self) -> CircuitRepository:
        return self._inner.circuits

    @property
    def webhooks(self) -> WebhookRepository:
        return self._inner.webhooks

    @property
    def diagnostics(self) -> DiagnosticRepository:
        return self._inner.diagnostics

    @property
    def web_sessions(self) -> WebSessionRepository:
        return self._inner.web_sessions

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


class CountingUnitOfWorkFactory:
    """Opens memory units of work and counts them, and the key lookups made in them."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.opened = 0
        self.key_lookups = 0

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        self.opened += 1
        return CountingUnitOfWork(self._store.unit_of_work(read_only=read_only), self)


class UnreachableLimiter:
    """A limiter whose store is down: it answers by its failure policy, like the adapters."""

    def __init__(self, policy: FailurePolicy) -> None:
        self.policy = policy

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        allowed = self.policy is FailurePolicy.OPEN
        wait = 0.0 if allowed else 5.0
        return RateDecision(allowed, limit, limit if allowed else 0, wait, wait, degraded=True)

    def block(
        self, key: str, base_seconds: float, max_seconds: float, forget_seconds: float = 3600.0
    ) -> float:
        return 5.0 if self.policy is FailurePolicy.CLOSED else 0.0

    def blocked_for(self, key: str) -> float:
        return 5.0 if self.policy is FailurePolicy.CLOSED else 0.0

    @property
    def available(self) -> bool:
        return False


# --- set-up -------------------------------------------------------------------------


class World:
    """A store with partners and keys, a fake clock, a counting factory and a guard."""

    def __init__(
        self,
        limits: AccessLimits | None = None,
        failures: RateLimiter | None = None,
        quotas: RateLimiter | None = None,
        verified: VerifiedKeys | None = None,
    ) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.uow = CountingUnitOfWorkFactory(self.store)
        self.limiter = InProcessRateLimiter(self.clock)
        self.verified = verified
        self.guard = AccessGuard(
            self.uow,
            self.store.audit_log,
            self.clock,
            failures or self.limiter,
            server_secret=SERVER_SECRET,
            quotas=quotas,
            limits=limits,
            verified=verified,
            limits_in_process=failures is None and quotas is None,
        )
        self.keys = ManageKeys(
            self.store.unit_of_work,
            self.clock,
            server_secret=SERVER_SECRET,
            random_bytes=secrets.token_bytes,
            on_change=None if verified is None else verified.forget,
        )
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            uow.partners.add(Partner(id="acme", name="Acme", created_at=now))
            uow.partners.add(Partner(id="globex", name="Globex", created_at=now, rate_limit_per_minute=5))
            uow.partners.add(Partner(id="gone", name="Gone", created_at=now, active=False))
            uow.commit()
        self.acme = self.keys.create(KeyRole.PARTNER, "acme", actor="system").plaintext
        self.globex = self.keys.create(KeyRole.PARTNER, "globex", actor="system").plaintext
        self.gone = self.keys.create(KeyRole.PARTNER, "gone", actor="system").plaintext
        self.admin = self.keys.create(KeyRole.ADMIN, actor="system").plaintext
        self.uow.opened = self.uow.key_lookups = 0

    def audit(self, action: AuditAction | None = None) -> list[AuditEntry]:
        entries = self.store.audit_log.query(AuditQuery(action=action, limit=100_000))
        return [e for e in reversed(entries) if e.action not in _KEY_ACTIONS]


_KEY_ACTIONS = {AuditAction.KEY_CREATED, AuditAction.KEY_REVOKED, AuditAction.KEY_ROTATED}


@pytest.fixture(params=["reads every key", "verified keys kept"])
def world(request: pytest.FixtureRequest) -> World:
    """Every test of a `world` runs with and without the keys verified a moment ago (ADR 0045):
    each answer, count and audit entry is the same either way."""
    return World(verified=VerifiedKeys(1.0) if request.param == "verified keys kept" else None)


def guessed_key(n: int) -> str:
    """A well-formed key nobody issued (valid checksum), or, every third time, garbage."""
    if n % 3 == 2:
        return f"pcik_guess{n:06d}"
    return new_api_key(KeyRole.PARTNER, secrets.token_bytes).plaintext


def forge(text: str, *, secret: str | None = None, prefix: str | None = None) -> str:
    """`text` with another secret or prefix, and a correct (public) checksum."""
    head, key_id, rest = text[:5], text[5:18], text[19:-6]
    body = f"{prefix or head}{key_id}_{secret or rest}"
    value, digits = zlib.crc32(body.encode()), ""
    for _ in range(6):
        value, digit = divmod(value, 62)
        digits = BASE62[digit] + digits
    return body + digits


def answer(error: AccessError | Granted) -> tuple[object, ...]:
    """What the HTTP layer would see of a refusal."""
    assert isinstance(error, AccessError)
    return (type(error), error.code, str(error), error.args)


# --- granted ------------------------------------------------------------------------


def test_a_valid_partner_key_is_granted_with_its_rate_decision(world: World) -> None:
    granted = world.guard.require(world.acme, PARTNER_HOST)
    assert granted.principal.role is KeyRole.PARTNER
    assert granted.principal.partner_id == "acme"
    assert granted.rate.allowed
    assert (granted.rate.limit, granted.rate.remaining) == (60, 59)
    assert not granted.rate.degraded
    assert world.audit() == []
    # The partner the check read travels on with the grant (a feed's ingest reads it no more).
    assert granted.partner is not None and granted.partner.id == "acme"


def test_an_admin_key_is_granted_on_an_admin_route(world: World) -> None:
    granted = world.guard.require(world.admin, PARTNER_HOST, role=KeyRole.ADMIN)
    assert granted.principal.is_admin
    assert granted.principal.partner_id is None
    assert granted.partner is None


def test_require_raises_what_decide_returns(world: World) -> None:
    assert isinstance(world.guard.decide(None, ATTACKER), Unauthenticated)
    with pytest.raises(Unauthenticated, match="a valid API key is required"):
        world.guard.require(None, ATTACKER)


# --- S1: enumeration ----------------------------------------------------------------


@pytest.mark.parametrize("threshold", [10, 3])
def test_s1_guessing_from_one_client_is_throttled_audited_and_spares_other_clients(threshold: int) -> None:
    world = World(AccessLimits(failed_auth_per_minute=threshold))
    presented = [guessed_key(n) for n in range(100)]
    answers = []
    for text in presented:
        answers.append(world.guard.decide(text, ATTACKER))
        world.clock.advance(0.1)

    assert all(isinstance(a, Unauthenticated) for a in answers[:threshold])
    assert all(isinstance(a, ClientBlocked) for a in answers[threshold:])
    first_block = answers[threshold]
    assert isinstance(first_block, ClientBlocked)
    assert first_block.retry_after == 60.0

    entries = world.audit()
    assert len(entries) == 100
    assert [e.action for e in entries] == [AuditAction.AUTH_FAILED] * threshold + [
        AuditAction.AUTH_THROTTLED
    ] * (100 - threshold)
    assert all(
        e.outcome is Outcome.DENIED and e.client == ATTACKER and e.actor == "anonymous" for e in entries
    )
    assert entries[threshold].details["blocked_for"] == 60.0
    stored = repr(entries)
    for text in presented:
        assert text not in stored
        if text.startswith("pcik_") and len(text) > 30:
            assert text[19:-6] not in stored  # no secret, even of a well-formed guess

    # Meanwhile a real partner from another address is not affected.
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), Granted)


def test_s1_a_blocked_client_is_refused_before_any_lookup_even_with_a_valid_key(world: World) -> None:
    for n in range(11):
        world.guard.decide(guessed_key(3 * n), ATTACKER)
    lookups = world.uow.key_lookups
    opened = world.uow.opened
    refused = world.guard.decide(world.acme, ATTACKER)
    assert isinstance(refused, ClientBlocked)
    assert 0 < refused.retry_after <= 60
    assert (world.uow.opened, world.uow.key_lookups) == (opened, lookups)
    last = world.audit()[-1]
    assert last.action is AuditAction.AUTH_THROTTLED
    assert last.details["reason"] == "blocked"
    assert last.details["key_id"] == world.acme[5:18]


def test_s1_blocks_lift_then_double_for_repeat_offenders_up_to_the_max() -> None:
    world = World(AccessLimits(block_base_seconds=60, block_max_seconds=200, block_forget_seconds=3600))

    def offend() -> ClientBlocked:
        for _ in range(10):
            assert isinstance(world.guard.decide(None, ATTACKER), Unauthenticated)
        blocked = world.guard.decide(None, ATTACKER)
        assert isinstance(blocked, ClientBlocked)
        return blocked

    assert offend().retry_after == 60
    world.clock.advance(61)
    assert offend().retry_after == 120
    world.clock.advance(121)
    assert offend().retry_after == 200  # 240, capped
    world.clock.advance(201 + 3600)
    assert offend().retry_after == 60  # forgotten after a quiet period


def test_s1_ipv6_clients_are_counted_per_64_network() -> None:
    world = World(AccessLimits(failed_auth_per_minute=3))
    answers = [world.guard.decide(None, f"2001:db8:1:2::{n:x}") for n in range(1, 6)]
    assert [type(a) for a in answers] == [Unauthenticated] * 3 + [ClientBlocked] * 2
    assert isinstance(world.guard.decide(world.acme, "2001:db8:1:3::1"), Granted)


def test_client_bucket() -> None:
    assert client_bucket("192.0.2.1") == "192.0.2.1"
    assert client_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:2:3:4:5:6", 48) == "2001:db8:1::/48"
    assert client_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_bucket("testclient") == "testclient"
    assert len(client_bucket("x" * 1000)) == 128


@pytest.mark.parametrize(
    "text",
    [None, "", "secret", "pcik_", "Bearer x", "x" * 100_000],
    ids=["none", "empty", "word", "prefix", "scheme", "huge"],
)
def test_malformed_keys_never_reach_the_repository(world: World, text: str | None) -> None:
    answers = [world.guard.decide(text, f"192.0.2.{n}") for n in range(3)]
    assert all(isinstance(a, Unauthenticated) for a in answers)
    assert world.uow.key_lookups == 0
    assert world.uow.opened == 0
    assert all(e.details["reason"] in {"missing", "malformed"} for e in world.audit())


def test_a_wrong_checksum_never_reaches_the_repository(world: World) -> None:
    typo = world.acme[:-1] + ("A" if world.acme[-1] != "A" else "B")
    assert isinstance(world.guard.decide(typo, PARTNER_HOST), Unauthenticated)
    assert world.uow.key_lookups == 0


def test_unknown_wrong_secret_revoked_expired_and_inactive_keys_get_the_same_answer(world: World) -> None:
    revoked = world.keys.create(KeyRole.PARTNER, "acme", actor="system")
    world.keys.revoke(revoked.key.id, actor="system")
    expiring = world.keys.create(
        KeyRole.PARTNER, "acme", actor="system", expires_at=world.clock.now() + timedelta(hours=1)
    )
    world.clock.advance(hours=2)
    cases = {
        "unknown_key": guessed_key(0),
        "wrong_secret": forge(world.acme, secret="A" * 43),
        "revoked": revoked.plaintext,
        "expired": expiring.plaintext,
        "partner_inactive": world.gone,
    }
    answers = {
        reason: world.guard.decide(text, f"192.0.2.{n}") for n, (reason, text) in enumerate(cases.items())
    }
    first = answer(answers["unknown_key"])
    assert all(answer(a) == first for a in answers.values())
    assert first[0] is Unauthenticated
    # The same work too: every well-formed key was looked up once, unknown ids included.
    assert world.uow.key_lookups == len(cases)
    # Only the audit trail, which the caller never sees, tells them apart.
    assert [e.details["reason"] for e in world.audit()] == list(cases)
    assert world.audit()[1].partner_id == "acme"  # the owner can see attempts on its key


def test_a_partner_key_rewritten_as_an_admin_key_is_refused(world: World) -> None:
    rewritten = forge(world.acme, prefix="pcia_")
    refused = world.guard.decide(rewritten, PARTNER_HOST, role=KeyRole.ADMIN)
    assert isinstance(refused, Unauthenticated)
    assert world.audit()[-1].details["reason"] == "wrong_role_prefix"


def test_failed_attempts_with_a_victims_key_id_do_not_spend_its_quota(world: World) -> None:
    attempt = forge(world.acme, secret="B" * 43)
    for n in range(200):
        assert isinstance(world.guard.decide(attempt, f"10.0.{n // 250}.{n % 250}"), Unauthenticated)
    granted = [world.guard.decide(world.acme, PARTNER_HOST) for _ in range(60)]
    assert all(isinstance(g, Granted) for g in granted)
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), KeyRateLimited)


def test_the_per_key_limit_of_60_a_minute_holds_and_slides(world: World) -> None:
    for n in range(60):  # one a second, t = 0 .. 59
        if n:
            world.clock.advance(1)
        granted = world.guard.decide(world.acme, PARTNER_HOST)
        assert isinstance(granted, Granted)
        assert granted.rate.remaining == 59 - n
    world.clock.advance(0.5)  # t = 59.5: 60 hits in the last minute
    refused = world.guard.decide(world.acme, PARTNER_HOST)
    assert isinstance(refused, KeyRateLimited)
    assert refused.retry_after == pytest.approx(0.5)
    assert refused.rate.limit == 60
    assert refused.principal.partner_id == "acme"

    world.clock.advance(0.5)  # t = 60: the hit of t = 0 leaves the window
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), Granted)
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), KeyRateLimited)
    world.clock.advance(1)
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), Granted)

    limited = world.audit(AuditAction.RATE_LIMITED)
    assert len(limited) == 2
    assert limited[0].actor == "acme"
    assert limited[0].partner_id == "acme"
    assert limited[0].details["limit"] == 60


def test_a_partners_own_limit_overrides_the_default(world: World) -> None:
    answers = [world.guard.decide(world.globex, PARTNER_HOST) for _ in range(6)]
    assert [type(a) for a in answers] == [Granted] * 5 + [KeyRateLimited]


def test_rate_limited_requests_do_not_count_as_failed_authentications(world: World) -> None:
    for _ in range(30):
        world.guard.decide(world.globex, PARTNER_HOST)
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST), Granted)


# --- S3: admin routes -----------------------------------------------------------------


def test_s3_a_partner_key_on_an_admin_route_is_forbidden_and_audited(world: World) -> None:
    refused = world.guard.decide(world.acme, PARTNER_HOST, role=KeyRole.ADMIN)
    assert isinstance(refused, Forbidden)
    assert refused.code == "forbidden"
    assert refused.principal.partner_id == "acme"
    (entry,) = world.audit()
    assert entry.action is AuditAction.ADMIN_DENIED
    assert entry.outcome is Outcome.DENIED
    assert (entry.actor, entry.partner_id, entry.client) == ("acme", "acme", PARTNER_HOST)
    assert entry.details["needs"] == "admin"


def test_an_admin_key_on_a_partner_route_is_forbidden_and_audited(world: World) -> None:
    refused = world.guard.decide(world.admin, PARTNER_HOST, role=KeyRole.PARTNER)
    assert isinstance(refused, Forbidden)
    assert refused.principal.is_admin
    (entry,) = world.audit()
    assert entry.action is AuditAction.ADMIN_DENIED
    assert entry.actor == f"admin:{refused.principal.key_id}"
    assert entry.details["reason"] == "not_partner"
    assert isinstance(world.guard.decide(world.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)


def test_s3_no_key_on_an_admin_route_is_unauthenticated_and_audited(world: World) -> None:
    assert isinstance(world.guard.decide(None, ATTACKER, role=KeyRole.ADMIN), Unauthenticated)
    (entry,) = world.audit()
    assert entry.action is AuditAction.AUTH_FAILED
    assert entry.details == {"reason": "missing", "length": 0, "needs": "admin"}


# --- bookkeeping and failure policy -----------------------------------------------------


def test_last_used_at_is_written_at_most_once_a_minute(world: World) -> None:
    key_id = world.acme[5:18]
    commits = world.store.commits
    world.guard.require(world.acme, PARTNER_HOST)
    first = world.keys.get(key_id).last_used_at
    assert first == world.clock.now()
    for _ in range(20):
        world.clock.advance(2)
        world.guard.require(world.acme, PARTNER_HOST)
    assert world.keys.get(key_id).last_used_at == first
    world.clock.advance(30)
    world.guard.require(world.acme, PARTNER_HOST)
    assert world.keys.get(key_id).last_used_at == world.clock.now()
    assert world.store.commits == commits + 2


def test_when_the_failure_limiter_is_down_authentication_fails_closed() -> None:
    world = World(failures=UnreachableLimiter(FailurePolicy.CLOSED))
    refused = world.guard.decide(world.acme, PARTNER_HOST)
    # Refused as unavailable (503), not as a blocked client (429): the client did nothing wrong.
    assert isinstance(refused, LimiterUnavailable)
    assert refused.code == "rate_limiter_unavailable"
    assert world.uow.key_lookups == 0
    assert world.audit()[-1].action is AuditAction.AUTH_THROTTLED
    assert world.audit()[-1].details["reason"] == "limiter_unavailable"


def test_when_the_quota_limiter_is_down_valid_keys_pass_and_say_so() -> None:
    world = World(quotas=UnreachableLimiter(FailurePolicy.OPEN))
    granted = world.guard.decide(world.acme, PARTNER_HOST)
    assert isinstance(granted, Granted)
    assert granted.rate.degraded
    assert isinstance(world.guard.decide(guessed_key(0), ATTACKER), Unauthenticated)


def test_the_guard_refuses_a_short_server_secret(world: World) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AccessGuard(world.uow, world.store.audit_log, world.clock, world.limiter, server_secret=b"short")


def test_concurrent_requests_of_one_key_write_last_used_at_once(world: World) -> None:
    """Requests that read the key before the first write committed do not each write (ADR 0039):
    on SQLite each write would wait for the lock behind the feeds being committed."""
    key_id = world.acme[5:18]
    with world.store.unit_of_work(read_only=True) as uow:
        stale = uow.api_keys.get(key_id)
    assert stale is not None and stale.last_used_at is None
    commits = world.store.commits
    world.guard.require(world.acme, PARTNER_HOST)
    # The other requests of the burst still hold the key as it was read before that write.
    for _ in range(31):
        world.guard._touch(stale, world.clock.now())
    assert world.store.commits == commits + 1
    world.clock.advance(61)
    world.guard._touch(stale, world.clock.now())
    assert world.store.commits == commits + 2


# --- keys verified a moment ago (ADR 0045) -------------------------------------------


@pytest.fixture
def kept() -> World:
    return World(verified=VerifiedKeys(1.0))


def test_a_verified_key_is_decided_without_a_read_until_the_bound_and_spends_its_quota_each_time(
    kept: World,
) -> None:
    assert kept.guard.decide_at_once(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER) is None  # never read
    first = kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER)
    assert isinstance(first, Granted) and kept.uow.key_lookups == 1
    kept.clock.advance(0.5)
    at_once = kept.guard.decide_at_once(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER)
    again = kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER)
    assert isinstance(at_once, Granted) and isinstance(again, Granted)
    assert kept.uow.key_lookups == 1  # neither read the key
    assert at_once.principal == first.principal and at_once.partner == first.partner
    # globex's own limit is 5 a minute: every decision spent one, whichever way it was made.
    assert [d.rate.remaining for d in (first, at_once, again)] == [4, 3, 2]
    kept.clock.advance(0.5)  # the bound: read again
    assert kept.guard.decide_at_once(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER) is None
    assert isinstance(kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    assert kept.uow.key_lookups == 2


def test_what_needs_a_refusal_a_write_or_another_secret_is_left_to_decide(kept: World) -> None:
    assert isinstance(kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    # The wrong role: decide says 403 and audits it; nothing was counted here.
    assert kept.guard.decide_at_once(kept.globex, PARTNER_HOST, role=KeyRole.ADMIN) is None
    assert isinstance(kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.ADMIN), Forbidden)
    # Another secret under the same key id is no verified key: read, refused, counted, audited.
    forged = forge(kept.globex, secret="Z" * 43)
    assert kept.guard.decide_at_once(forged, PARTNER_HOST, role=KeyRole.PARTNER) is None
    assert isinstance(kept.guard.decide(forged, PARTNER_HOST, role=KeyRole.PARTNER), Unauthenticated)
    # The quota spent (5 a minute, 2 used): the last hits are refused by decide, audited once each.
    granted = [kept.guard.decide_at_once(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER) for _ in range(4)]
    assert [isinstance(g, Granted) for g in granted] == [True, True, True, False]
    assert isinstance(kept.guard.decide(kept.globex, PARTNER_HOST, role=KeyRole.PARTNER), KeyRateLimited)
    actions = [(e.action, e.details.get("reason")) for e in kept.audit()]
    assert actions == [
        (AuditAction.ADMIN_DENIED, "not_admin"),
        (AuditAction.AUTH_FAILED, "wrong_secret"),
        (AuditAction.RATE_LIMITED, None),
    ]


def test_a_verified_key_still_expires_and_is_still_touched_on_time(kept: World) -> None:
    expiring = kept.keys.create(
        KeyRole.PARTNER, "acme", actor="system", expires_at=kept.clock.now() + timedelta(seconds=90.5)
    ).plaintext
    kept.clock.advance(90)
    assert isinstance(kept.guard.decide(expiring, PARTNER_HOST, role=KeyRole.PARTNER), Granted)  # touched
    kept.clock.advance(0.25)
    assert isinstance(kept.guard.decide_at_once(expiring, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    kept.clock.advance(0.25)  # its expiry, within the bound of its read: refused all the same
    assert kept.guard.decide_at_once(expiring, PARTNER_HOST, role=KeyRole.PARTNER) is None
    refused = kept.guard.decide(expiring, PARTNER_HOST, role=KeyRole.PARTNER)
    assert isinstance(refused, Unauthenticated)
    assert [e.details.get("reason") for e in kept.audit(AuditAction.AUTH_FAILED)] == ["expired"]
    # last_used_at: written by the first decision; once a minute is due, decide writes it again.
    assert isinstance(kept.guard.decide(kept.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    kept.clock.advance(60)
    assert isinstance(kept.guard.decide(kept.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)  # read again
    kept.clock.advance(0.5)
    assert isinstance(kept.guard.decide_at_once(kept.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    with kept.store.unit_of_work(read_only=True) as uow:
        stored = uow.api_keys.get(kept.acme[5:18])
    assert stored is not None and stored.last_used_at == kept.clock.now() - timedelta(seconds=0.5)


def test_a_blocked_client_or_limits_kept_elsewhere_are_never_decided_at_once() -> None:
    world = World(verified=VerifiedKeys(1.0))
    assert isinstance(world.guard.decide(world.acme, ATTACKER, role=KeyRole.PARTNER), Granted)
    for n in range(11):  # past the 10 failures a minute: the address is blocked
        world.guard.decide(forge(world.acme, secret=f"{n:0>43}"), ATTACKER, role=KeyRole.PARTNER)
    assert world.guard.decide_at_once(world.acme, ATTACKER, role=KeyRole.PARTNER) is None
    assert isinstance(world.guard.decide(world.acme, ATTACKER, role=KeyRole.PARTNER), ClientBlocked)
    shared = World(verified=VerifiedKeys(1.0), quotas=InProcessRateLimiter(FakeClock()))
    assert isinstance(shared.guard.decide(shared.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    assert shared.guard.decide_at_once(shared.acme, PARTNER_HOST, role=KeyRole.PARTNER) is None
    off = World(verified=VerifiedKeys(0))
    assert isinstance(off.guard.decide(off.acme, PARTNER_HOST, role=KeyRole.PARTNER), Granted)
    assert off.guard.decide_at_once(off.acme, PARTNER_HOST, role=KeyRole.PARTNER) is None


def test_a_read_that_began_before_a_change_is_not_kept() -> None:
    world = World(verified=VerifiedKeys(1.0))
    verified = world.verified
    assert verified is not None
    generation = verified.generation
    with world.store.unit_of_work(read_only=True) as uow:
        key = uow.api_keys.get(world.acme[5:18])
        partner = uow.partners.get("acme")
    assert key is not None
    verified.forget()  # a revocation committed while the read was on its way
    verified.put(key, partner, world.clock.now(), generation)
    assert verified.get(key.id, key.secret_hash, world.clock.now()) is None
    verified.put(key, partner, world.clock.now(), verified.generation)
    assert verified.get(key.id, key.secret_hash, world.clock.now()) == (key, partner)
    world.clock.advance(-1)  # a clock set back: read again rather than trust the age
    assert verified.get(key.id, key.secret_hash, world.clock.now()) is None
