"""The circuit rules as pure domain code (ADR 0014): `Circuit.admit` and `Circuit.record`.

No store, no fetcher: values in, values out. The breaker and the stores are held to these
rules in test_circuit_breaker.py, the storage contract and test_shared_circuits.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.domain.model.circuits import (
    Admission,
    BreakerPolicy,
    Circuit,
    CircuitKey,
    CircuitState,
    Verdict,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = BreakerPolicy(
    failure_threshold=3, reset_after=timedelta(seconds=60), probe_lease=timedelta(seconds=30)
)
KEY = CircuitKey.for_feed("https://feeds.example/catalog.json?token=abc", "acme")


def key() -> CircuitKey:
    assert KEY is not None
    return KEY


def opened(at: datetime = T0, failures: int = 3) -> Circuit:
    circuit = Circuit(key())
    for _ in range(failures):
        circuit = circuit.record(Verdict.FAILURE, at, POLICY)
    assert circuit.state is CircuitState.OPEN
    return circuit


def test_a_key_is_per_partner_and_url_and_never_holds_the_url() -> None:
    url = "https://Feeds.Example/catalog.json?token=abc"
    acme, globex = CircuitKey.for_feed(url, "acme"), CircuitKey.for_feed(url, "globex")
    other_path = CircuitKey.for_feed("https://Feeds.Example/other.json", "acme")
    assert acme is not None and globex is not None and other_path is not None
    assert acme.endpoint == globex.endpoint == other_path.endpoint == "https://feeds.example:443"
    assert acme.url_hash == globex.url_hash != other_path.url_hash
    assert acme != globex
    assert "token" not in repr(acme) and "catalog" not in repr(acme)
    assert CircuitKey.for_feed(url) == attrs.evolve(acme, partner_id="")
    assert CircuitKey.for_feed("ftp://feeds.example/x", "acme") is None


def test_closed_admits_everything_and_counts_failures_up_to_the_threshold() -> None:
    circuit = Circuit(key())
    assert circuit.admit(T0, POLICY, "t") == (Admission.ALLOWED, circuit)
    circuit = circuit.record(Verdict.FAILURE, T0, POLICY).record(Verdict.FAILURE, T0, POLICY)
    assert (circuit.state, circuit.failures) == (CircuitState.CLOSED, 2)
    circuit = circuit.record(Verdict.FAILURE, T0, POLICY)
    assert (circuit.state, circuit.failures) == (CircuitState.OPEN, 3)
    assert circuit.opened_at == T0 and circuit.next_probe_at == T0 + POLICY.reset_after


def test_a_success_closes_from_any_state_and_a_neutral_verdict_changes_nothing() -> None:
    for circuit in (Circuit(key(), failures=2), opened()):
        assert circuit.record(Verdict.SUCCESS, T0, POLICY) == Circuit(key())
        assert circuit.record(Verdict.NEUTRAL, T0, POLICY) == circuit


def test_open_refuses_until_the_probe_is_due_then_admits_one_probe() -> None:
    circuit = opened()
    just_before = T0 + POLICY.reset_after - timedelta(microseconds=1)
    assert circuit.admit(just_before, POLICY, "t") == (Admission.REFUSED, circuit)
    assert circuit.state_at(just_before) is CircuitState.OPEN
    due = T0 + POLICY.reset_after
    assert circuit.state_at(due) is CircuitState.HALF_OPEN
    admission, probing = circuit.admit(due, POLICY, "probe-1")
    assert admission is Admission.PROBE
    assert probing.state is CircuitState.HALF_OPEN and probing.probe_token == "probe-1"
    assert probing.probe_until == due + POLICY.probe_lease and probing.probing(due)
    assert probing.admit(due, POLICY, "probe-2") == (Admission.REFUSED, probing)


def test_the_probes_verdict_decides_and_only_the_probe_can_reopen() -> None:
    due = T0 + POLICY.reset_after
    _, probing = opened().admit(due, POLICY, "probe-1")
    assert probing.record(Verdict.SUCCESS, due, POLICY, probe="probe-1") == Circuit(key())
    reopened = probing.record(Verdict.FAILURE, due, POLICY, probe="probe-1")
    assert (reopened.state, reopened.failures, reopened.opened_at) == (CircuitState.OPEN, 4, due)
    assert reopened.next_probe_at == due + POLICY.reset_after and reopened.probe_token is None
    released = probing.record(Verdict.NEUTRAL, due, POLICY, probe="probe-1")
    assert released.state is CircuitState.HALF_OPEN and not released.probing(due)
    assert released.admit(due, POLICY, "probe-2")[0] is Admission.PROBE
    # A fetch that is not the probe (admitted before the circuit opened) only counts.
    late = probing.record(Verdict.FAILURE, due, POLICY, probe=None)
    assert (late.state, late.failures, late.probe_token) == (CircuitState.HALF_OPEN, 4, "probe-1")


def test_a_probe_given_up_for_lost_is_replaced_and_its_late_verdict_is_an_ordinary_one() -> None:
    due = T0 + POLICY.reset_after
    _, first = opened().admit(due, POLICY, "probe-1")
    lapsed = due + POLICY.probe_lease
    admission, second = first.admit(lapsed, POLICY, "probe-2")
    assert admission is Admission.PROBE and second.probe_token == "probe-2"
    late = second.record(Verdict.FAILURE, lapsed, POLICY, probe="probe-1")
    assert late.state is CircuitState.HALF_OPEN and late.probe_token == "probe-2" and late.failures == 4


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), st.integers(0, 0)),
        st.tuples(st.just("record"), st.sampled_from(list(Verdict))),
        st.tuples(st.just("advance"), st.integers(1, 90)),
    ),
    max_size=60,
)


@given(_steps)
def test_one_probe_at_a_time_and_failures_count_the_run_since_the_last_success(
    steps: list[tuple[str, object]],
) -> None:
    circuit, now = Circuit(key(), revision=7), T0
    in_flight: list[tuple[str | None, datetime | None]] = []  # (probe token, its lease) per admitted fetch
    run, tokens = 0, 0
    for action, value in steps:
        if action == "advance":
            assert isinstance(value, int)
            now += timedelta(seconds=value)
        elif action == "admit":
            tokens += 1
            admission, circuit = circuit.admit(now, POLICY, f"t{tokens}")
            if admission is Admission.PROBE:
                assert not any(lease is not None and now < lease for _, lease in in_flight)
                in_flight.append((f"t{tokens}", now + POLICY.probe_lease))
            elif admission is Admission.ALLOWED:
                assert circuit.state is CircuitState.CLOSED
                in_flight.append((None, None))
            else:
                assert circuit.state is not CircuitState.CLOSED
        elif in_flight:
            assert isinstance(value, Verdict)
            token, _ = in_flight.pop(0)
            circuit = circuit.record(value, now, POLICY, probe=token)
            run = 0 if value is Verdict.SUCCESS else run + (value is Verdict.FAILURE)
        assert circuit.failures == run
        assert circuit.revision == 7  # the rules never touch the store's guard
        if circuit.state is CircuitState.CLOSED:
            assert circuit.probe_token is None and circuit.opened_at is None
        else:
            assert (
                circuit.opened_at is not None
                and circuit.next_probe_at == circuit.opened_at + POLICY.reset_after
            )
        if circuit.state is CircuitState.OPEN:
            assert circuit.probe_token is None
