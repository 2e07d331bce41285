"""The composition root: settings reach what they configure, `build()` takes every port and
keeps serve's defaults for the rest, and secrets outlive the process."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

import pytest
from support.sqlite_files import migrated_database

from partner_ingest.adapters_in.bootstrap import Application, ServiceSecrets, build, in_memory
from partner_ingest.adapters_in.settings import Settings, SettingsError
from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.fetcher import CircuitBreakerFetcher
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.parser_processes import ParserProcesses
from partner_ingest.adapters_out.rate_limit.memory import InProcessRateLimiter
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.validation import ItemValidator
from partner_ingest.domain.use_cases import FeedSubmission, validate_against_contract
from partner_ingest.domain.use_cases.access_errors import KeyRateLimited
from partner_ingest.domain.use_cases.authenticate import Granted
from partner_ingest.domain.use_cases.pipeline import PARSE_HERE
from partner_ingest.plugins import load_formats
from partner_ingest.ports import RateDecision

FEED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'


def settings_in(tmp_path: Path, **values: str) -> Settings:
    """The embedded default, on a database file in `tmp_path` (so also its secrets file)."""
    env = {"PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'ingest.db'}"}
    env |= {f"PARTNER_INGEST_{name.upper()}": value for name, value in values.items()}
    return Settings.from_env(env)


def add_partner(app: Application, partner_id: str = "acme") -> None:
    with app.uow() as uow:
        uow.partners.add(Partner(id=partner_id, name=partner_id, created_at=app.clock.now()))
        uow.commit()


def submission(body: bytes = FEED, **values: object) -> FeedSubmission:
    return FeedSubmission(partner_id="acme", body=io.BytesIO(body), media_type="application/json", **values)  # type: ignore[arg-type]


class RecordingLimiter(InProcessRateLimiter):
    """The in-process limiter, noting each key it counts a hit for."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.keys: list[str] = []

    def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        self.keys.append(key)
        return super().hit(key, limit, window_seconds)


class RecordingParsing:
    """A `FeedParsing` that parses here, noting the validator of every feed it is given."""

    def __init__(self) -> None:
        self.validators: list[ItemValidator] = []

    def open(
        self, reading: FeedReading, stream: BinaryIO
    ) -> AbstractContextManager[Iterator[ValidatedChunk]]:
        self.validators.append(reading.validator)
        return PARSE_HERE.open(reading, stream)


def uses_fast_path(validator: ItemValidator) -> bool:
    # Without its fast path, a validator's `validate` is its reference `validate_exactly`.
    return validator.validate != validator.validate_exactly


def test_an_admin_keys_quota_is_a_setting_of_its_own() -> None:
    settings = Settings.from_env(
        {"PARTNER_INGEST_ADMIN_RATE_LIMIT_PER_MINUTE": "2", "PARTNER_INGEST_RATE_LIMIT_PER_MINUTE": "50"}
    )
    app, _, _ = in_memory(settings=settings)
    key = app.keys.create(KeyRole.ADMIN, actor="test", label="ops").plaintext
    decisions = [app.guard.decide(key, "10.0.0.1", role=KeyRole.ADMIN) for _ in range(3)]
    assert [type(d) for d in decisions] == [Granted, Granted, KeyRateLimited]


def test_build_uses_the_store_limiter_clock_and_ids_it_is_given(tmp_path: Path) -> None:
    store, clock = InMemoryStore(), FakeClock()
    limiter = RecordingLimiter(clock)
    app = build(
        settings_in(tmp_path, parser_processes="0"),
        store=store,
        rate_limiter=limiter,
        clock=clock,
        ids=SequentialIds(),
    )
    try:
        add_partner(app)
        key = app.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext
        assert isinstance(app.guard.decide(key, "10.0.0.1"), Granted)
        report = app.ingest(submission())
    finally:
        app.close()
    assert limiter.keys, "the access guard counted its quota in the limiter it was given"
    assert report.feed_id == "feed_000001"  # SequentialIds, not UUIDs
    with store.unit_of_work(read_only=True) as uow:
        assert uow.products.get("acme", "A-1") is not None
        [imported] = uow.imports.recent("acme", limit=10)
    assert imported.received_at == clock.now()
    assert not (tmp_path / "ingest.db").exists(), "the settings' store was never opened"


def test_an_embedder_replaces_only_the_store_and_keeps_every_other_default(tmp_path: Path) -> None:
    store = SqliteStore(migrated_database(tmp_path / "embedder.db"))
    app = build(settings_in(tmp_path), store=store)
    try:
        add_partner(app)
        key = app.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext
        report = app.ingest(submission())
        assert report.counts.created == 1
        assert isinstance(app.guard.require(key, "10.0.0.1"), Granted)
        assert app.ready().checks == {"database": "reachable", "schema": "current"}
        assert isinstance(app.parsing, ParserProcesses)  # serve's default, kept
        assert isinstance(app.fetcher, CircuitBreakerFetcher)
    finally:
        app.close()
    assert (tmp_path / "ingest.secrets.json").exists(), "secrets persisted where serve keeps them"
    assert not (tmp_path / "ingest.db").exists()
    with store.unit_of_work(read_only=True) as uow:  # handed in, so still open: its owner closes it
        assert uow.products.get("acme", "A-1") is not None
    store.close()


def test_build_with_nothing_given_is_what_serve_runs(tmp_path: Path) -> None:
    app = build(settings_in(tmp_path))
    try:
        assert app.ready().checks == {"database": "reachable", "schema": "current", "disk": "ok"}
        assert isinstance(app.parsing, ParserProcesses)
        assert isinstance(app.fetcher, CircuitBreakerFetcher)
    finally:
        app.close()
    assert (tmp_path / "ingest.db").exists()
    assert (tmp_path / "ingest.secrets.json").exists()


def test_issued_keys_still_work_after_a_restart_with_no_secret_configured(tmp_path: Path) -> None:
    first = build(settings_in(tmp_path, parser_processes="0"), store=SqliteStore(tmp_path / "keys.db"))
    add_partner(first)
    key = first.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext
    first.close()

    again = build(settings_in(tmp_path, parser_processes="0"), store=SqliteStore(tmp_path / "keys.db"))
    try:
        assert isinstance(again.guard.require(key, "10.0.0.1"), Granted)
    finally:
        again.close()


def test_build_refuses_to_make_up_secrets_it_could_not_keep() -> None:
    # Settings built by hand skip from_env's checks: build() still names what is missing.
    settings = Settings(database_url="postgresql://db.example/ingest")
    with pytest.raises(SettingsError, match="PARTNER_INGEST_KEY_HASH_SECRET"):
        build(settings, store=InMemoryStore(), parsing=PARSE_HERE)


def test_secrets_handed_in_are_the_ones_keys_are_hashed_under(tmp_path: Path) -> None:
    store, vault_keys = InMemoryStore(), (FernetVault.generate_key(),)

    def app_with(secret: bytes) -> Application:
        settings = settings_in(tmp_path, parser_processes="0")
        return build(settings, store=store, secrets=ServiceSecrets(secret, vault_keys))

    issuer = app_with(b"s" * 32)
    add_partner(issuer)
    key = issuer.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext
    same, other = app_with(b"s" * 32), app_with(b"t" * 32)
    assert isinstance(same.guard.decide(key, "10.0.0.1"), Granted)
    assert not isinstance(other.guard.decide(key, "10.0.0.2"), Granted)
    assert not (tmp_path / "ingest.secrets.json").exists(), "no secrets file when secrets are given"


@pytest.mark.parametrize("fast", [True, False])
def test_the_fast_validator_setting_reaches_the_validator_of_every_feed(tmp_path: Path, fast: bool) -> None:
    parsing = RecordingParsing()
    settings = settings_in(tmp_path, fast_validator=str(fast).lower())
    app = build(settings, store=InMemoryStore(), parsing=parsing)
    try:
        add_partner(app)
        app.ingest(submission())  # a synchronous ingest
        app.ingest(submission(dry_run=True))  # POST /partner/validate
        app.submit_job(
            submission(FEED.replace(b"A-1", b"J-1")),
            body_bytes=len(FEED),
            content_hash=hashlib.sha256(FEED.replace(b"A-1", b"J-1")).hexdigest(),
        )
        assert app.process_next_job() is not None  # a job
        app.validate(FEED, format="json")
        validate_against_contract(  # `partner-ingest validate` passes the setting the same way
            FEED, formats=load_formats(), fast_validator=settings.fast_validator, parsing=parsing
        )
    finally:
        app.close()
    assert len(parsing.validators) == 5
    assert [uses_fast_path(v) for v in parsing.validators] == [fast] * 5
