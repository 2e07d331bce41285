"""The circuit repository's contract, for every store (memory, SQLite, PostgreSQL; ADR 0014).

A circuit round-trips exactly; `replace` stores the next value only over the revision
it was read at, so of several writers racing on one circuit (each on its own connection)
exactly one wins each round: no failure is lost and only one probe is ever taken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from support.stores import StoreUnderTest

from partner_ingest.domain.model.circuits import (
    Admission,
    BreakerPolicy,
    Circuit,
    CircuitKey,
    CircuitState,
    Verdict,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
POLICY = BreakerPolicy(failure_threshold=2, reset_after=timedelta(seconds=60))
THREADS = 4


def key(partner: str = "acme", url: str = "https://feeds.example/catalog.json") -> CircuitKey:
    found = CircuitKey.for_feed(url, partner)
    assert found is not None
    return found


def read(store: StoreUnderTest, circuit_key: CircuitKey) -> Circuit | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.circuits.get(circuit_key)


def put(store: StoreUnderTest, current: Circuit, new: Circuit) -> bool:
    with store.unit_of_work() as uow:
        replaced = uow.circuits.replace(current, new)
        uow.commit()
    return replaced


def test_a_circuit_round_trips_exactly_and_each_replacement_is_a_new_revision(store: StoreUnderTest) -> None:
    fresh = Circuit(key())
    assert read(store, fresh.key) is None
    probing = Circuit(
        key(),
        state=CircuitState.HALF_OPEN,
        failures=7,
        opened_at=T0,
        next_probe_at=T0 + timedelta(seconds=60),
        probe_token="probe-1",
        probe_until=T0 + timedelta(seconds=90, microseconds=1),
    )
    assert put(store, fresh, probing)
    stored = read(store, fresh.key)
    assert stored == attrs.evolve(probing, revision=1)

    closed = Circuit(key(), revision=1)
    assert put(store, present(stored), closed)
    assert read(store, fresh.key) == attrs.evolve(closed, revision=2)


def present(circuit: Circuit | None) -> Circuit:
    assert circuit is not None
    return circuit


def test_a_replacement_over_a_stale_read_is_refused_and_writes_nothing(store: StoreUnderTest) -> None:
    fresh = Circuit(key())
    first = attrs.evolve(fresh, failures=1)
    assert put(store, fresh, first)
    assert not put(store, fresh, attrs.evolve(fresh, failures=5))  # someone stored it first
    stored = present(read(store, fresh.key))
    assert put(store, stored, attrs.evolve(stored, failures=2))
    assert not put(store, stored, attrs.evolve(stored, failures=9))  # revision 1 is gone
    assert present(read(store, fresh.key)).failures == 2


def test_circuits_are_kept_per_partner_and_url_and_listed_in_key_order(store: StoreUnderTest) -> None:
    keys = [key("globex"), key("acme"), key("acme", "https://feeds.example/other.json"), key("")]
    for circuit_key in keys:
        assert put(store, Circuit(circuit_key), Circuit(circuit_key, failures=1))
    with store.unit_of_work(read_only=True) as uow:
        listed = uow.circuits.all()
    assert [c.key for c in listed] == sorted(keys, key=lambda k: (k.partner_id, k.url_hash))
    assert all(c.failures == 1 and c.revision == 1 for c in listed)


def test_a_replacement_rolled_back_leaves_nothing(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow:
        assert uow.circuits.replace(Circuit(key()), Circuit(key(), failures=1))
    assert read(store, key()) is None


def test_a_circuit_is_replaced_only_by_its_own_next_value(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="same key"):
        uow.circuits.replace(Circuit(key()), Circuit(key("globex")))


def race(store: StoreUnderTest, step: Callable[[Circuit, int], Circuit | None]) -> list[int]:
    """THREADS threads, released at once, each applying `step` to the circuit until it is stored
    (or `step` returns None: nothing to do); the threads whose replacement went through."""
    barrier = threading.Barrier(THREADS)
    winners: list[int] = []
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(10)
            while True:
                current = read(store, key()) or Circuit(key())
                new = step(current, n)
                if new is None:
                    return
                if put(store, current, new):
                    winners.append(n)
                    return
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if failures:
        raise failures[0]
    return winners


def test_failures_recorded_at_once_by_many_writers_are_all_counted(store: StoreUnderTest) -> None:
    for _ in range(5):
        winners = race(
            store, lambda c, _: c.record(Verdict.FAILURE, T0, BreakerPolicy(failure_threshold=100))
        )
        assert sorted(winners) == list(range(THREADS))
    assert present(read(store, key())).failures == 5 * THREADS


def test_of_many_writers_racing_for_the_probe_exactly_one_takes_it(store: StoreUnderTest) -> None:
    opened = Circuit(key()).record(Verdict.FAILURE, T0, POLICY).record(Verdict.FAILURE, T0, POLICY)
    assert put(store, Circuit(key()), opened)
    due = T0 + POLICY.reset_after

    def take_probe(current: Circuit, n: int) -> Circuit | None:
        admission, probing = current.admit(due, POLICY, f"probe-{n}")
        return probing if admission is Admission.PROBE else None

    [winner] = race(store, take_probe)
    assert present(read(store, key())).probe_token == f"probe-{winner}"
