"""The stores every contract test runs against: memory, SQLite, and PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.sqlite_files import migrated_database
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import InMemoryStore
from partner_ingest.adapters_out.sqlite.store import SqliteStore

STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """One store per kind; PostgreSQL gets a schema of its own and drops it afterwards."""
    kind = request.param
    if kind == "memory":
        yield InMemoryStore()
    elif kind == "sqlite":
        sqlite = SqliteStore(migrated_database(tmp_path / "contract.db"))
        yield sqlite
        sqlite.close()
    else:
        from support.postgres import postgres_store

        with postgres_store() as pg:
            yield pg
