"""The e2e fixtures: real servers on loopback, on SQLite files, through bootstrap.build.

`base_url`/`client` share one server per test module; `serve`/`service` give a
test a server on a database file of its own (with settings of its own).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.http import admin_key, e2e_settings, new_address, running_server, tls
from support.service import LogCapture, Service, serving
from support.sqlite_files import migrated_database

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's SQLite file, migrated."""
    return migrated_database(tmp_path_factory.mktemp("e2e") / "e2e.db")


@pytest.fixture(scope="module")
def application(database: Path) -> Iterator[Application]:
    """The service as `serve` builds it, with loopback as the trusted proxy."""
    app = bootstrap.build(e2e_settings(str(database), max_sync_bytes=256 * 1024, max_body_bytes=1024 * 1024))
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def base_url(application: Application) -> Iterator[str]:
    """The running server."""
    with running_server(application) as url:
        yield url


@pytest.fixture
def address() -> str:
    """This test's own client address."""
    return new_address()


@pytest.fixture
def client(base_url: str, address: str) -> Iterator[httpx2.Client]:
    """An HTTP client speaking from this test's address (X-Forwarded-For via the trusted proxy)."""
    with httpx2.Client(
        verify=tls(), base_url=base_url, headers={"X-Forwarded-For": address}, timeout=30
    ) as c:
        yield c


@pytest.fixture
def admin(application: Application) -> str:
    """A fresh admin key."""
    return admin_key(application)


# --- one server per test, on its own database file -------------------------------


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Every log line of this test, formatted as `serve` writes them."""
    with LogCapture.installed() as capture:
        yield capture


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start a server on a database file of its own: `serve(**settings)` -> Service.
    `serve(database=other.database, ...)` starts a second instance on another's file."""
    with ExitStack() as stack:
        started = itertools.count(1)

        def start(database: Path | None = None, **settings: Any) -> Service:
            database = database or tmp_path / f"service-{next(started)}.db"
            return stack.enter_context(serving(database, **settings))

        yield start


@pytest.fixture
def service(serve: Callable[..., Service]) -> Service:
    """A server with the default settings on this test's own database file."""
    return serve()
