"""The web session repository's contract, for every store (memory, SQLite, PostgreSQL; ADR 0038).

A session round-trips exactly by its token digest, ends when deleted, rolls back with its
unit of work, and the purge forgets only sessions whose expiry has passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.stores import StoreUnderTest

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.web_sessions import WebSession, token_digest

T0 = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def session(
    token: str, *, expires_in: timedelta = timedelta(hours=8), partner: str | None = "acme"
) -> WebSession:
    return WebSession(
        token_hash=token_digest(token),
        role=KeyRole.PARTNER if partner else KeyRole.ADMIN,
        partner_id=partner,
        key_id="k1",
        csrf_token=f"csrf-{token}",
        created_at=T0,
        expires_at=T0 + expires_in,
    )


def add(store: StoreUnderTest, *sessions: WebSession) -> None:
    with store.unit_of_work() as uow:
        for s in sessions:
            uow.web_sessions.add(s)
        uow.commit()


def get(store: StoreUnderTest, token: str) -> WebSession | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.web_sessions.get(token_digest(token))


def test_a_session_round_trips_exactly_by_its_digest(store: StoreUnderTest) -> None:
    partner, admin = session("a"), session("b", partner=None)
    add(store, partner, admin)
    assert get(store, "a") == partner
    assert get(store, "b") == admin
    assert get(store, "c") is None


def test_a_deleted_session_is_gone_and_deleting_twice_says_so(store: StoreUnderTest) -> None:
    add(store, session("a"), session("b"))
    with store.unit_of_work() as uow:
        assert uow.web_sessions.delete(token_digest("a")) is True
        assert uow.web_sessions.delete(token_digest("a")) is False
        uow.commit()
    assert get(store, "a") is None
    assert get(store, "b") is not None


def test_a_session_added_in_a_rolled_back_unit_of_work_never_existed(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow:
        uow.web_sessions.add(session("a"))
    assert get(store, "a") is None


def test_the_purge_forgets_only_expired_sessions(store: StoreUnderTest) -> None:
    add(
        store,
        session("old", expires_in=timedelta(minutes=1)),
        session("edge", expires_in=timedelta(minutes=5)),
    )
    add(store, session("live", expires_in=timedelta(hours=1)))
    with store.unit_of_work() as uow:
        assert uow.web_sessions.delete_expired(T0 + timedelta(minutes=5)) == 2
        uow.commit()
    assert get(store, "old") is None and get(store, "edge") is None
    assert get(store, "live") is not None
