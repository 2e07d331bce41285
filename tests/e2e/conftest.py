"""The e2e fixtures: one real server per test module, on a SQLite file, through bootstrap.build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support.http import admin_key, e2e_settings, new_address, running_server

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's SQLite file."""
    return tmp_path_factory.mktemp("e2e") / "e2e.db"


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
    with httpx2.Client(base_url=base_url, headers={"X-Forwarded-For": address}, timeout=30) as c:
        yield c


@pytest.fixture
def admin(application: Application) -> str:
    """A fresh admin key."""
    return admin_key(application)
