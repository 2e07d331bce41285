"""Shared pytest set-up: the hypothesis profiles, the order tests are handed to the xdist
workers in, where the coverage tracer runs (a test's setup, call and teardown, not pytest's work
between them nor the xdist controller's loop), the collected objects frozen out of the garbage
collector's generations, and the in-memory application fixture."""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import sys
from collections.abc import Generator, Iterator

import pytest
from hypothesis import HealthCheck, settings
from support.examples import CI_EXAMPLES
from support.memory import MemoryApp
from support.postgres import vacuum_churned_catalogs

from partner_ingest.adapters_in.bootstrap import in_memory
from partner_ingest.domain.model import Partner, ValidationPolicy

# Quick by default, where a developer runs the suite again and again; CI (`.ci/run`)
# loads the thorough profile, so every property meets many more cases there. Ten cases a
# property (a quarter less of the in-process tests' CPU than 25: docs/ADR/0012-testability.md).
settings.register_profile(
    "default", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("quick", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# Tests that start servers and processes, longest first (`slow`), then the rest: under xdist each
# worker's first share of the collection begins with its part of the long tests, so the workers
# do not wait on one long test at the end while the other has nothing left (docs/ADR/0012-testability.md).
_PROCESS_SUITES = ("tests/browser/", "tests/e2e/", "tests/faults/")


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("slow") is not None:
        return 0
    return 1 if item.nodeid.startswith(_PROCESS_SUITES) else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `-n N`, deal each rank's modules into N contiguous shares, the longest ranks first.

    `--dist worksteal` first hands worker i the i-th of N equal slices of the collection and
    then steals from the tail of the longest queue; so each slice gets the same share of the
    long tests at its head. A module goes whole into one share, ranked by its longest test:
    cut between two workers, its module fixtures (a scale-out deployment is seven processes)
    were set up on both. Every worker computes the same order, as xdist requires.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    groups: list[list[list[pytest.Item]]] = [[], [], []]
    for tests in modules.values():
        groups[min(_rank(test) for test in tests)].append(tests)
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for group in groups:
        left = sum(len(tests) for tests in group)
        queue = collections.deque(group)
        for worker, share in enumerate(shares):
            target = left / (workers - worker)
            taken = 0
            # A module joins this share while at least half of it fits; the last share takes the rest.
            while queue and (worker == workers - 1 or taken + len(queue[0]) / 2 <= target):
                tests = queue.popleft()
                share.extend(tests)
                taken += len(tests)
            left -= taken
    items[:] = [item for share in shares for item in share]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once a run (in the xdist controller, not in each worker): clear the dead catalog rows
    earlier runs left on the PostgreSQL test server (tests/support/postgres.py)."""
    if not hasattr(session.config, "workerinput"):
        vacuum_churned_catalogs()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the tests are collected, every object alive is one the run keeps to its end (the test
    modules, their items and fixtures' definitions, the package): `gc.freeze()` moves them out of
    the collector's generations, so its full collections during the run stop walking them again
    (docs/ADR/0012-testability.md). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


_tracer: list[object] = []
"""The coverage tracer of this thread while a test's protocol runs with it removed."""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """A test's setup, call and teardown run under the coverage tracer, pytest's work between
    them (reports, their logging and their passage to the xdist controller) without it.

    The tracer is called on every line of every frame, pytest's as well, though only
    `partner_ingest` is measured, and the package runs only inside those three phases (fixtures,
    the test, finalizers); each phase puts the tracer back for its duration, outermost of the
    phase's hooks (docs/ADR/0012-testability.md). Without a tracer (no `--cov`) nothing changes."""
    tracer = sys.gettrace()
    if tracer is None:
        return (yield)
    _tracer.append(tracer)
    sys.settrace(None)
    try:
        return (yield)
    finally:
        _tracer.pop()
        sys.settrace(tracer)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """The xdist controller runs no test: its loop (each worker's reports) goes without the tracer.

    What of the package the controller executes (the imports of this file) every worker executes
    too, under its own tracer. Innermost of the loop's wrappers, so pytest-cov finds its tracer back
    in place when it stops and saves the controller's data after the loop."""
    tracer = sys.gettrace()
    if tracer is None or session.config.pluginmanager.getplugin("dsession") is None:
        return (yield)
    sys.settrace(None)
    try:
        return (yield)
    finally:
        sys.settrace(tracer)


def _traced_phase() -> Generator[None, object, object]:
    if not _tracer:
        return (yield)
    sys.settrace(_tracer[-1])  # type: ignore[arg-type]
    try:
        return (yield)
    finally:
        sys.settrace(None)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _traced_phase())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _traced_phase())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _traced_phase())


@pytest.fixture(autouse=True)
def _no_loop_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test outside the browser suite starts in a thread with no running event loop.

    Playwright's sync API (tests/browser, one per worker for the session) leaves its loop set as
    the running loop of the worker's thread between its calls: a later test's `asyncio.run` then
    refused to start, and code that writes differently on a loop (the access lines) took the
    thread for one. The loop is only unset for the test's own setup and call, and set again
    before the module and session fixtures' teardown, where Playwright may need it."""
    left = asyncio._get_running_loop()
    if left is None or request.node.nodeid.startswith("tests/browser/"):
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left)


@pytest.fixture
def memory_app() -> MemoryApp:
    """The application on the in-memory store, with partner `acme` (v2 by default)."""
    app, store, clock = in_memory()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now(), default_version=2))
        uow.partners.add(
            Partner(
                id="lenient-co",
                name="Lenient Co",
                created_at=clock.now(),
                default_version=2,
                policy=ValidationPolicy(mode="lenient"),  # type: ignore[arg-type]
                allow_policy_override=True,
            )
        )
        uow.commit()
    return app, store, clock
