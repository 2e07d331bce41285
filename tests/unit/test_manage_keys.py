"""ManageKeys on the in-memory store: issue once, list masked, revoke, rotate with overlap."""

from __future__ import annotations

import secrets
from datetime import timedelta

import attrs
import pytest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.domain.model.api_keys import KeyRole, hash_secret, parse_api_key
from partner_ingest.domain.model.audit import AuditAction, AuditQuery, Outcome
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.use_cases.access_errors import Unauthenticated
from partner_ingest.domain.use_cases.authenticate import AccessGuard, Granted
from partner_ingest.domain.use_cases.manage_keys import (
    MAX_OVERLAP,
    KeyRequestError,
    KeyStatus,
    KeySummary,
    LastAdminKeyError,
    ManageKeys,
)

SERVER_SECRET = b"m" * 32
CLIENT = "192.0.2.10"


class Setup:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.keys = ManageKeys(
            self.store.unit_of_work, self.clock, server_secret=SERVER_SECRET, random_bytes=secrets.token_bytes
        )
        self.guard = AccessGuard(
            self.store.unit_of_work,
            self.store.audit_log,
            self.clock,
            InProcessRateLimiter(self.clock),
            server_secret=SERVER_SECRET,
        )
        with self.store.unit_of_work() as uow:
            uow.partners.add(Partner(id="acme", name="Acme", created_at=self.clock.now()))
            uow.commit()

    def works(self, plaintext: str, *, role: KeyRole | None = None) -> bool:
        outcome = self.guard.decide(plaintext, CLIENT, role=role)
        assert isinstance(outcome, Granted | Unauthenticated), outcome
        return isinstance(outcome, Granted)

    def key_events(self) -> list[AuditAction]:
        entries = reversed(self.store.audit_log.query(AuditQuery(limit=1000)))
        return [e.action for e in entries if e.action.value.startswith("key.")]


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(setup: Setup) -> None:
    created = setup.keys.create(KeyRole.PARTNER, "acme", actor="admin:k0", label="ci", client=CLIENT)
    assert created.plaintext.startswith("pcik_")
    assert created.plaintext not in repr(created)
    assert created.key.masked == f"pcik_{created.key.id}_****"
    assert (created.key.partner_id, created.key.label, created.key.status) == ("acme", "ci", KeyStatus.ACTIVE)
    assert setup.works(created.plaintext)

    parsed = parse_api_key(created.plaintext)
    assert parsed is not None
    (stored,) = setup.store.tables.api_keys.values()
    assert stored.secret_hash == hash_secret(parsed.secret, SERVER_SECRET)
    assert parsed.secret not in repr(setup.store.tables)
    assert parsed.secret.encode() not in stored.secret_hash

    (entry,) = setup.store.audit_log.query(AuditQuery(action=AuditAction.KEY_CREATED))
    assert (entry.actor, entry.partner_id, entry.client, entry.outcome) == (
        "admin:k0",
        "acme",
        CLIENT,
        Outcome.SUCCESS,
    )
    assert entry.details["key_id"] == created.key.id
    assert parsed.secret not in repr(entry)


def test_an_admin_key_works_on_admin_routes(setup: Setup) -> None:
    created = setup.keys.create(KeyRole.ADMIN, actor="system")
    assert created.plaintext.startswith("pcia_")
    assert setup.works(created.plaintext, role=KeyRole.ADMIN)


def test_bad_requests_are_refused(setup: Setup) -> None:
    with pytest.raises(NotFoundError):
        setup.keys.create(KeyRole.PARTNER, "nobody", actor="system")
    with pytest.raises(KeyRequestError, match="needs a partner"):
        setup.keys.create(KeyRole.PARTNER, actor="system")
    with pytest.raises(KeyRequestError, match="no partner"):
        setup.keys.create(KeyRole.ADMIN, "acme", actor="system")
    with pytest.raises(KeyRequestError, match="future"):
        setup.keys.create(KeyRole.PARTNER, "acme", actor="system", expires_at=setup.clock.now())
    with pytest.raises(KeyRequestError, match="label"):
        setup.keys.create(KeyRole.PARTNER, "acme", actor="system", label="x" * 201)
    assert setup.store.tables.api_keys == {}
    assert setup.key_events() == []


def test_the_listing_is_masked_newest_first_with_each_status(setup: Setup) -> None:
    active = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.clock.advance(1)
    expiring = setup.keys.create(
        KeyRole.PARTNER, "acme", actor="system", expires_at=setup.clock.now() + timedelta(seconds=10)
    )
    setup.clock.advance(1)
    revoked = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.keys.revoke(revoked.key.id, actor="system")
    setup.clock.advance(1)
    rotated = setup.keys.rotate(active.key.id, overlap=timedelta(hours=1), actor="system")
    setup.clock.advance(20)

    listing = setup.keys.list_keys("acme")
    assert [k.id for k in listing] == [rotated.key.id, revoked.key.id, expiring.key.id, active.key.id]
    assert [k.status for k in listing] == [
        KeyStatus.ACTIVE,
        KeyStatus.REVOKED,
        KeyStatus.EXPIRED,
        KeyStatus.RETIRING,
    ]
    assert listing[0].replaces == active.key.id
    shown = repr(listing)
    for created in (active, expiring, revoked, rotated):
        parsed = parse_api_key(created.plaintext)
        assert parsed is not None
        assert parsed.secret not in shown
    assert {f.name for f in attrs.fields(KeySummary)}.isdisjoint({"secret", "secret_hash", "plaintext"})
    assert setup.keys.list_keys(None) == []


def test_a_revoked_key_stops_working_and_the_revocation_is_audited(setup: Setup) -> None:
    created = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    assert setup.works(created.plaintext)
    summary = setup.keys.revoke(created.key.id, actor="admin:k0", client=CLIENT)
    assert summary.status is KeyStatus.REVOKED
    assert not setup.works(created.plaintext)
    assert setup.keys.revoke(created.key.id, actor="admin:k0").revoked_at == summary.revoked_at  # idempotent
    assert setup.key_events() == [AuditAction.KEY_CREATED, AuditAction.KEY_REVOKED, AuditAction.KEY_REVOKED]
    with pytest.raises(NotFoundError):
        setup.keys.revoke("nosuchkey0000", actor="system")


def test_rotation_overlaps_then_retires_the_old_key(setup: Setup) -> None:
    old = setup.keys.create(KeyRole.PARTNER, "acme", actor="system", label="prod")
    new = setup.keys.rotate(old.key.id, overlap=timedelta(hours=24), actor="admin:k0", client=CLIENT)
    assert new.plaintext != old.plaintext
    assert (new.key.partner_id, new.key.label, new.key.replaces) == ("acme", "prod", old.key.id)

    assert setup.works(new.plaintext)
    assert setup.works(old.plaintext)
    assert setup.keys.get(old.key.id).status is KeyStatus.RETIRING
    setup.clock.advance(hours=23, minutes=59)
    assert setup.works(old.plaintext)
    setup.clock.advance(minutes=1)
    assert not setup.works(old.plaintext)
    assert setup.works(new.plaintext)

    (entry,) = setup.store.audit_log.query(AuditQuery(action=AuditAction.KEY_ROTATED))
    assert entry.details["key_id"] == new.key.id
    assert entry.details["replaces"] == old.key.id
    assert entry.details["old_key_retires_at"] == (setup.clock.now()).isoformat()
    assert (entry.actor, entry.client) == ("admin:k0", CLIENT)


def test_an_explicit_revoke_cuts_the_overlap_short(setup: Setup) -> None:
    old = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.keys.rotate(old.key.id, overlap=timedelta(days=7), actor="system")
    setup.keys.revoke(old.key.id, actor="system")
    assert not setup.works(old.plaintext)


def test_rotation_keeps_the_key_lifetime_unless_told_otherwise(setup: Setup) -> None:
    old = setup.keys.create(
        KeyRole.PARTNER, "acme", actor="system", expires_at=setup.clock.now() + timedelta(days=90)
    )
    setup.clock.advance(days=30)
    new = setup.keys.rotate(old.key.id, overlap=timedelta(0), actor="system")
    assert new.key.expires_at == setup.clock.now() + timedelta(days=90)
    assert not setup.works(old.plaintext)
    chosen = setup.clock.now() + timedelta(days=10)
    newer = setup.keys.rotate(new.key.id, overlap=timedelta(0), actor="system", expires_at=chosen)
    assert newer.key.expires_at == chosen


def test_only_a_working_key_that_is_not_already_rotating_can_be_rotated(setup: Setup) -> None:
    key = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.keys.rotate(key.key.id, overlap=timedelta(hours=1), actor="system")
    with pytest.raises(KeyRequestError, match="already being rotated"):
        setup.keys.rotate(key.key.id, overlap=timedelta(hours=1), actor="system")
    revoked = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.keys.revoke(revoked.key.id, actor="system")
    with pytest.raises(KeyRequestError, match="revoked or expired"):
        setup.keys.rotate(revoked.key.id, overlap=timedelta(hours=1), actor="system")
    with pytest.raises(KeyRequestError, match="negative"):
        setup.keys.rotate(key.key.id, overlap=timedelta(seconds=-1), actor="system")
    with pytest.raises(KeyRequestError, match="at most 31536000 seconds"):
        setup.keys.rotate(key.key.id, overlap=MAX_OVERLAP + timedelta(seconds=1), actor="system")
    with pytest.raises(NotFoundError):
        setup.keys.rotate("nosuchkey0000", overlap=timedelta(hours=1), actor="system")


def test_the_first_start_creates_one_admin_key(setup: Setup) -> None:
    first = setup.keys.ensure_admin_key()
    assert first is not None
    assert first.key.role is KeyRole.ADMIN
    assert setup.works(first.plaintext, role=KeyRole.ADMIN)
    assert setup.keys.ensure_admin_key() is None
    (entry,) = setup.store.audit_log.query(AuditQuery(action=AuditAction.KEY_CREATED))
    assert entry.actor == "system"
    assert entry.details["first_start"] is True
    assert [k.id for k in setup.keys.list_keys(None)] == [first.key.id]


def test_no_admin_key_is_made_when_any_key_exists(setup: Setup) -> None:
    setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    assert setup.keys.ensure_admin_key() is None


# --- at least one admin key stays in service ---------------------------------------


def test_the_last_admin_key_cannot_be_revoked_and_the_refusal_is_audited(setup: Setup) -> None:
    only = setup.keys.create(KeyRole.ADMIN, actor="system", label="ops")
    with pytest.raises(LastAdminKeyError, match="last admin key") as refused:
        setup.keys.revoke(only.key.id, actor="admin:k0", client=CLIENT)
    assert refused.value.code == "last_admin_key" and refused.value.key_id == only.key.id
    assert setup.works(only.plaintext, role=KeyRole.ADMIN)
    assert setup.keys.get(only.key.id).status is KeyStatus.ACTIVE
    [denied] = setup.store.audit_log.query(AuditQuery(action=AuditAction.KEY_REVOKED))
    assert (denied.outcome, denied.actor, denied.client) == (Outcome.DENIED, "admin:k0", CLIENT)
    assert denied.details["key_id"] == only.key.id and denied.details["reason"] == "last_admin_key"

    second = setup.keys.create(KeyRole.ADMIN, actor="system")
    assert setup.keys.revoke(only.key.id, actor="admin:k0").status is KeyStatus.REVOKED
    with pytest.raises(LastAdminKeyError):
        setup.keys.revoke(second.key.id, actor="admin:k0")
    assert setup.works(second.plaintext, role=KeyRole.ADMIN)


def test_revoking_the_replacement_of_a_retiring_admin_key_is_refused(setup: Setup) -> None:
    """Rotating the last admin key is fine (its replacement is in service); revoking that
    replacement while the old key retires would lock the admins out once the overlap ends."""
    old = setup.keys.create(KeyRole.ADMIN, actor="system")
    new = setup.keys.rotate(old.key.id, overlap=timedelta(hours=1), actor="admin:k0")
    with pytest.raises(LastAdminKeyError):
        setup.keys.revoke(new.key.id, actor="admin:k0")
    setup.keys.revoke(old.key.id, actor="admin:k0")  # cutting the overlap short leaves `new`
    setup.clock.advance(hours=2)
    assert setup.works(new.plaintext, role=KeyRole.ADMIN)
    assert not setup.works(old.plaintext, role=KeyRole.ADMIN)


def test_expired_admin_keys_and_partner_keys_do_not_count_as_remaining(setup: Setup) -> None:
    setup.keys.create(KeyRole.ADMIN, actor="system", expires_at=setup.clock.now() + timedelta(minutes=5))
    kept = setup.keys.create(KeyRole.ADMIN, actor="system")
    partner = setup.keys.create(KeyRole.PARTNER, "acme", actor="system")
    setup.clock.advance(minutes=10)
    with pytest.raises(LastAdminKeyError):
        setup.keys.revoke(kept.key.id, actor="system")
    assert setup.keys.revoke(partner.key.id, actor="system").status is KeyStatus.REVOKED
