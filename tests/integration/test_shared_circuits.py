"""Circuit breakers are kept per partner feed in the store, shared by every process (ADR 0014).

Each "instance" here is what a scheduler or HTTP process builds: a store object of its own
(its own connections) on one SQLite file or one PostgreSQL schema, wired by
`bootstrap.wire` with a fetcher of its own, pulling from a real feed server on loopback.
They share one fake clock, as processes share the wall clock. Proved on both stores:

- a healthy partner on the same host never resets a failing partner's run of failures;
- failures counted by two instances add up to one run, and every instance's admin view
  shows the circuit alike;
- an open circuit is still open after a restart;
- with several instances racing, one probe goes out and the rest are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from support.feeds import FeedServer, Reply, feed_server, wait_for
from support.stores import StoreUnderTest

from partner_ingest.adapters_in.bootstrap import Application, wire
from partner_ingest.adapters_in.secrets_file import fresh_secrets
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.circuits import CircuitState
from partner_ingest.ports.fetcher import FetchOutcome, FetchRequest, FetchResult

FEED = b'{"products": [{"sku": "C-1", "name": "Circuit", "price": 2, "currency": "EUR", "quantity": 1}]}'
THRESHOLD = 2
RESET = 60.0
SECRETS = fresh_secrets()
"""Shared by every instance, as a deployment's secrets are."""
SETTINGS = Settings(
    fetch_allow_networks="127.0.0.0/8",
    fetch_timeout_seconds=10.0,
    breaker_failures=THRESHOLD,
    breaker_reset_seconds=RESET,
)

Instances = Callable[[], Application]


@pytest.fixture
def site() -> Iterator[FeedServer]:
    """One partner host: `/down.json` fails with 500, `/up.json` serves a feed."""
    replies = {"/down.json": Reply(500, b"oops", "text/plain"), "/up.json": Reply(200, FEED)}
    with feed_server(replies) as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], StoreUnderTest]]:
    """Opens one more store object on one database, as one more process would."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path / "circuits.db"

            def open_sqlite() -> StoreUnderTest:
                store = SqliteStore(path)
                stack.callback(store.close)
                return store

            yield open_sqlite
        else:
            from support.postgres import postgres_database

            from partner_ingest.adapters_out.postgres.store import PostgresStore

            url = stack.enter_context(postgres_database())

            def open_postgres() -> StoreUnderTest:
                store = PostgresStore(url, pool_size=8)
                stack.callback(store.close)
                return store

            yield open_postgres


@pytest.fixture
def instances(open_store: Callable[[], StoreUnderTest], clock: FakeClock) -> Instances:
    """Builds one more instance (a store object and a fetcher of its own) on the shared database."""

    def instance() -> Application:
        store = open_store()
        return wire(store.unit_of_work, store.audit_log, secrets_=SECRETS, clock=clock, settings=SETTINGS)

    return instance


def add_partner(app: Application, partner_id: str, endpoint: str) -> None:
    with app.uow() as uow:
        uow.partners.add(
            Partner(id=partner_id, name=partner_id, created_at=app.clock.now(), endpoint=endpoint)
        )
        uow.commit()
    app.schedules.create(partner_id, actor="test", interval_seconds=300)


def pull(app: Application, partner_id: str) -> str:
    """Make `partner_id`'s schedule (and no other) due, run one scheduler pass; its outcome."""
    now = app.clock.now()
    with app.uow() as uow:
        for schedule in uow.schedules.all():
            due = schedule.partner_id == partner_id
            later = now - timedelta(seconds=1) if due else now + timedelta(hours=1)
            uow.schedules.update(attrs.evolve(schedule, next_run_at=later))
        uow.commit()
    [result] = app.pull_feeds()
    assert result.partner_id == partner_id
    return result.outcome


def circuit_of(app: Application, partner_id: str) -> dict[str, object]:
    """The admin view of a partner's circuit, as this instance reads it."""
    [entry] = [e for e in app.fetch_health.circuits() if e.partner_id == partner_id]
    return {
        "state": entry.state,
        "failures": entry.failures,
        "opened_at": entry.opened_at,
        "next_probe_at": entry.next_probe_at,
    }


def test_a_healthy_partner_on_the_same_host_never_resets_a_failing_partners_run(
    instances: Instances, site: FeedServer
) -> None:
    app = instances()
    add_partner(app, "down", site.url("/down.json"))
    add_partner(app, "up", site.url("/up.json"))

    outcomes = [pull(app, "down"), pull(app, "up"), pull(app, "down"), pull(app, "up")]

    assert outcomes == ["http_error", "fetched", "http_error", "unchanged"]
    assert pull(app, "down") == "circuit_open"  # two failures in a row for its own feed
    assert pull(app, "up") == "unchanged"  # the same host, another circuit: still pulled
    assert site.hits("/down.json") == THRESHOLD and site.hits("/up.json") == 3
    assert circuit_of(app, "down")["state"] is CircuitState.OPEN
    assert circuit_of(app, "up")["state"] is CircuitState.CLOSED


def test_failures_seen_by_two_instances_are_one_run_and_every_admin_view_agrees(
    instances: Instances, site: FeedServer, clock: FakeClock
) -> None:
    first, second, viewer = instances(), instances(), instances()
    add_partner(first, "down", site.url("/down.json"))

    assert pull(first, "down") == "http_error"
    assert pull(second, "down") == "http_error"  # the second failure in a row: the circuit opens
    assert pull(first, "down") == "circuit_open"
    assert pull(second, "down") == "circuit_open"
    assert site.hits("/down.json") == THRESHOLD

    expected = {
        "state": CircuitState.OPEN,
        "failures": THRESHOLD,
        "opened_at": clock.now(),
        "next_probe_at": clock.now() + timedelta(seconds=RESET),
    }
    for app in (first, second, viewer):  # the viewer never fetched anything
        assert circuit_of(app, "down") == expected
        assert app.fetch_health.circuit_counts()[CircuitState.OPEN] == 1


def test_an_open_circuit_is_still_open_after_a_restart(
    open_store: Callable[[], StoreUnderTest], site: FeedServer, clock: FakeClock
) -> None:
    store = open_store()
    before = wire(store.unit_of_work, store.audit_log, secrets_=SECRETS, clock=clock, settings=SETTINGS)
    add_partner(before, "down", site.url("/down.json"))
    assert [pull(before, "down") for _ in range(THRESHOLD)] == ["http_error"] * THRESHOLD

    store = open_store()  # a new process: nothing of the first one's memory
    after = wire(store.unit_of_work, store.audit_log, secrets_=SECRETS, clock=clock, settings=SETTINGS)
    assert pull(after, "down") == "circuit_open"
    assert site.hits("/down.json") == THRESHOLD
    clock.advance(RESET)
    assert pull(after, "down") == "http_error"  # the probe, failing: open for another period
    assert pull(after, "down") == "circuit_open"
    assert site.hits("/down.json") == THRESHOLD + 1


def test_only_one_probe_goes_out_however_many_instances_race_for_it(
    instances: Instances, site: FeedServer, clock: FakeClock
) -> None:
    apps = [instances(), instances()]
    url = site.url("/flaky.json")
    site.replies["/flaky.json"] = Reply(503, b"busy", "text/plain")
    for _ in range(THRESHOLD):
        assert apps[0].fetcher.fetch(FetchRequest(url=url)).outcome is FetchOutcome.HTTP_ERROR
    clock.advance(RESET)
    gate = threading.Event()
    site.replies["/flaky.json"] = Reply(200, FEED, gate=gate)

    racers = [app for app in apps for _ in range(3)]
    start = threading.Barrier(len(racers))
    results: list[FetchResult] = []

    def race(app: Application) -> FetchResult:
        start.wait(10)
        result = app.fetcher.fetch(FetchRequest(url=url))
        results.append(result)
        return result

    with ThreadPoolExecutor(len(racers)) as pool:
        try:
            futures = [pool.submit(race, app) for app in racers]
            wait_for(lambda: len(results) == len(racers) - 1, 20, "every racer but the probe to be refused")
            # The probe's request may still be on its way (its fetcher is built on first use).
            wait_for(lambda: site.hits("/flaky.json") > THRESHOLD, 20, "the probe to reach the endpoint")
            assert site.hits("/flaky.json") == THRESHOLD + 1  # the probe alone reached the endpoint
            refused = list(results)
        finally:
            gate.set()
        outcomes = [future.result(20).outcome for future in futures]
    for result in results:
        if result.body is not None:
            result.body.close()

    assert all(r.outcome is FetchOutcome.CIRCUIT_OPEN for r in refused)
    assert all("a probe is in flight" in r.detail for r in refused)
    assert sorted(outcomes).count(FetchOutcome.FETCHED) == 1
    for app in apps:  # the probe succeeded: closed for every instance
        after = app.fetcher.fetch(FetchRequest(url=url))
        assert after.outcome is FetchOutcome.FETCHED
        assert after.body is not None
        after.body.close()
