"""Signing in to the pages, on the in-memory store with a fake clock (ADR 0038): the access guard
decides the sign-in, the store keeps only the token's digest, and every later request is admitted
again (expiry, a revoked key, the key's quota)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.audit import AuditAction
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.web_sessions import csrf_matches, token_digest
from partner_ingest.domain.use_cases.access_errors import (
    ClientBlocked,
    Forbidden,
    KeyRateLimited,
    Unauthenticated,
)
from partner_ingest.domain.use_cases.manage_keys import CreatedKey
from partner_ingest.domain.use_cases.web_sessions import Admitted, SignedIn


def service(**settings: Any) -> tuple[Application, InMemoryStore, FakeClock, CreatedKey]:
    app, store, clock = bootstrap.in_memory(settings=Settings(**settings))
    with app.uow() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    key = app.keys.create(KeyRole.PARTNER, "acme", actor="test")
    return app, store, clock, key


def test_a_sign_in_stores_only_the_digest_and_the_session_is_admitted_until_it_expires() -> None:
    app, store, clock, key = service(web_session_seconds=600)
    signed = app.web_sessions.sign_in(key.plaintext, "198.51.100.1", role=KeyRole.PARTNER)
    assert isinstance(signed, SignedIn)
    assert list(store.tables.web_sessions) == [token_digest(signed.token)]
    assert signed.token not in repr(store.tables.web_sessions)
    admitted = app.web_sessions.admit(signed.token, "198.51.100.1", role=KeyRole.PARTNER)
    assert isinstance(admitted, Admitted) and admitted.session.principal.partner_id == "acme"
    assert app.web_sessions.admit(signed.token, "198.51.100.1", role=KeyRole.ADMIN) is None  # another area
    clock.advance(600)
    assert app.web_sessions.admit(signed.token, "198.51.100.1", role=KeyRole.PARTNER) is None
    assert store.tables.web_sessions == {}  # an expired session is deleted on sight


def test_revoking_the_key_ends_its_sessions_and_signing_out_ends_one() -> None:
    app, store, _, key = service()
    first = app.web_sessions.sign_in(key.plaintext, "198.51.100.2", role=KeyRole.PARTNER)
    second = app.web_sessions.sign_in(key.plaintext, "198.51.100.2", role=KeyRole.PARTNER)
    assert isinstance(first, SignedIn) and isinstance(second, SignedIn)
    assert app.web_sessions.sign_out(first.token) is True
    assert app.web_sessions.admit(first.token, "198.51.100.2", role=KeyRole.PARTNER) is None
    assert isinstance(app.web_sessions.admit(second.token, "198.51.100.2", role=KeyRole.PARTNER), Admitted)
    app.keys.revoke(key.key.id, actor="admin:test")
    assert app.web_sessions.admit(second.token, "198.51.100.2", role=KeyRole.PARTNER) is None
    assert store.tables.web_sessions == {}


def test_a_sessions_requests_spend_its_keys_quota_like_api_calls() -> None:
    app, store, _, key = service(rate_limit_per_minute=3)
    signed = app.web_sessions.sign_in(key.plaintext, "198.51.100.3", role=KeyRole.PARTNER)  # spends one
    assert isinstance(signed, SignedIn)
    outcomes = [app.web_sessions.admit(signed.token, "198.51.100.3", role=KeyRole.PARTNER) for _ in range(3)]
    assert [type(o) for o in outcomes] == [Admitted, Admitted, KeyRateLimited]
    assert store.tables.audit[-1].action is AuditAction.RATE_LIMITED


def test_sign_in_refusals_are_the_guards_counted_and_blocked_like_the_api() -> None:
    app, store, _, key = service(auth_failures_per_minute=2)
    assert isinstance(app.web_sessions.sign_in(key.plaintext, "198.51.100.4", role=KeyRole.ADMIN), Forbidden)
    refusals = [
        app.web_sessions.sign_in("pcik_wrong", "198.51.100.5", role=KeyRole.PARTNER) for _ in range(3)
    ]
    assert [type(r) for r in refusals] == [Unauthenticated, Unauthenticated, ClientBlocked]
    # Blocked: even the right key is refused from that address now.
    assert isinstance(
        app.web_sessions.sign_in(key.plaintext, "198.51.100.5", role=KeyRole.PARTNER), ClientBlocked
    )
    assert store.tables.web_sessions == {}


def test_the_csrf_token_must_be_the_sessions_own() -> None:
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd")
    assert not csrf_matches("abc", None)
    assert not csrf_matches("abc", "")


def test_the_price_in_force_is_the_sale_price_inside_its_window_only() -> None:
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    product = Product(
        partner_id="acme", sku="S", name="n", price=Decimal("10.00"), currency="EUR", quantity=1,
        sale_price=Decimal("7.50"), sale_starts_at=start, sale_ends_at=end,
    )  # fmt: skip
    assert product.price_at(start - timedelta(seconds=1)) == Decimal("10.00")
    assert product.price_at(start) == Decimal("7.50")
    assert product.price_at(end) == Decimal("10.00")
    open_ended = Product(
        partner_id="acme",
        sku="S",
        name="n",
        price=Decimal("10.00"),
        currency="EUR",
        quantity=1,
        sale_price=Decimal("9"),
    )
    assert open_ended.price_at(end) == Decimal("9")


def test_the_workers_periodic_purge_deletes_expired_sessions_only() -> None:
    app, store, clock, key = service(web_session_seconds=60)
    old = app.web_sessions.sign_in(key.plaintext, "198.51.100.6", role=KeyRole.PARTNER)
    clock.advance(30)
    fresh = app.web_sessions.sign_in(key.plaintext, "198.51.100.6", role=KeyRole.PARTNER)
    assert isinstance(old, SignedIn) and isinstance(fresh, SignedIn)
    clock.advance(30)
    assert app.purge_retained() >= 1
    assert list(store.tables.web_sessions) == [token_digest(fresh.token)]
