"""A key the access guard verified a moment ago (ADR 0045), on every store: what another instance
revokes or deactivates is refused at most `PARTNER_INGEST_KEY_CACHE_SECONDS` after the read in use,
what this process changes at once, and the refusal answers and is audited as without the cache."""

from __future__ import annotations

import secrets
from datetime import timedelta

import attrs
import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.domain.model import KeyRole, Partner
from partner_ingest.domain.model.audit import AuditAction, AuditQuery
from partner_ingest.domain.use_cases.access_errors import Unauthenticated
from partner_ingest.domain.use_cases.authenticate import AccessGuard, Granted
from partner_ingest.domain.use_cases.manage_keys import ManageKeys
from partner_ingest.domain.use_cases.verified_keys import VerifiedKeys

SECRET = b"s" * 32
BOUND = 1.0
CLIENT = "198.51.100.7"


@attrs.define
class Instance:
    """One `serve` process over the shared store: its guard, its cache, its key management."""

    guard: AccessGuard
    verified: VerifiedKeys
    keys: ManageKeys


def instance(store: StoreUnderTest, clock: FakeClock) -> Instance:
    verified = VerifiedKeys(BOUND)
    guard = AccessGuard(
        store.unit_of_work,
        store.audit_log,
        clock,
        InProcessRateLimiter(clock),
        server_secret=SECRET,
        verified=verified,
        limits_in_process=True,
    )
    keys = ManageKeys(
        store.unit_of_work,
        clock,
        server_secret=SECRET,
        random_bytes=secrets.token_bytes,
        on_change=verified.forget,
    )
    return Instance(guard, verified, keys)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def two(store: StoreUnderTest, clock: FakeClock) -> tuple[Instance, Instance]:
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    return instance(store, clock), instance(store, clock)


def refusal_reasons(store: StoreUnderTest) -> list[str]:
    entries = store.audit_log.query(AuditQuery(action=AuditAction.AUTH_FAILED))
    return [str(entry.details["reason"]) for entry in entries]


def test_a_key_another_instance_revokes_is_refused_within_the_bound(
    store: StoreUnderTest, clock: FakeClock, two: tuple[Instance, Instance]
) -> None:
    a, b = two
    key = b.keys.create(KeyRole.PARTNER, "acme", actor="system").plaintext
    assert isinstance(a.guard.decide(key, CLIENT, role=KeyRole.PARTNER), Granted)  # read and verified
    clock.advance(0.2)
    b.keys.revoke(key[5:18], actor="system")  # another instance: a's cache is not told
    clock.advance(0.5)
    # Within the bound the read a moment ago still stands, on the loop's path and the thread's.
    assert isinstance(a.guard.decide_at_once(key, CLIENT, role=KeyRole.PARTNER), Granted)
    assert isinstance(a.guard.decide(key, CLIENT, role=KeyRole.PARTNER), Granted)
    clock.advance(0.3)  # the bound after the read: read again, refused
    assert a.guard.decide_at_once(key, CLIENT, role=KeyRole.PARTNER) is None
    refused = a.guard.decide(key, CLIENT, role=KeyRole.PARTNER)
    assert isinstance(refused, Unauthenticated)
    assert refusal_reasons(store) == ["revoked"]
    unknown = a.guard.decide(key[:5] + "0" * 13 + key[18:], CLIENT, role=KeyRole.PARTNER)
    assert type(unknown) is type(refused) and str(unknown) == str(refused)


def test_a_partner_another_instance_deactivates_is_refused_within_the_bound(
    store: StoreUnderTest, clock: FakeClock, two: tuple[Instance, Instance]
) -> None:
    a, b = two
    key = b.keys.create(KeyRole.PARTNER, "acme", actor="system").plaintext
    assert isinstance(a.guard.decide(key, CLIENT, role=KeyRole.PARTNER), Granted)
    with store.unit_of_work() as uow:
        partner = uow.partners.get("acme")
        assert partner is not None
        uow.partners.update(attrs.evolve(partner, active=False))
        uow.commit()
    clock.advance(BOUND)
    assert a.guard.decide_at_once(key, CLIENT, role=KeyRole.PARTNER) is None
    assert isinstance(a.guard.decide(key, CLIENT, role=KeyRole.PARTNER), Unauthenticated)
    assert refusal_reasons(store) == ["partner_inactive"]


def test_a_key_this_process_revokes_or_rotates_out_is_refused_at_once(
    store: StoreUnderTest, clock: FakeClock, two: tuple[Instance, Instance]
) -> None:
    a, _ = two
    revoked = a.keys.create(KeyRole.PARTNER, "acme", actor="system").plaintext
    rotated = a.keys.create(KeyRole.PARTNER, "acme", actor="system").plaintext
    for key in (revoked, rotated):
        assert isinstance(a.guard.decide(key, CLIENT, role=KeyRole.PARTNER), Granted)
        assert isinstance(a.guard.decide_at_once(key, CLIENT, role=KeyRole.PARTNER), Granted)
    a.keys.revoke(revoked[5:18], actor="system")
    assert a.guard.decide_at_once(revoked, CLIENT, role=KeyRole.PARTNER) is None
    assert isinstance(a.guard.decide(revoked, CLIENT, role=KeyRole.PARTNER), Unauthenticated)
    # A rotation's old key works through the overlap, then stops at its very end, cache or not.
    a.keys.rotate(rotated[5:18], overlap=timedelta(seconds=0.5), actor="system")
    assert isinstance(a.guard.decide(rotated, CLIENT, role=KeyRole.PARTNER), Granted)
    clock.advance(0.5)
    assert a.guard.decide_at_once(rotated, CLIENT, role=KeyRole.PARTNER) is None
    assert isinstance(a.guard.decide(rotated, CLIENT, role=KeyRole.PARTNER), Unauthenticated)
    assert refusal_reasons(store) == ["revoked", "revoked"]
