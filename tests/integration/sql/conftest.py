"""Port-level properties of the SQL stores, written once and run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.sql_stores import KINDS, SqlKit, sql_kit


@pytest.fixture(params=KINDS)
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlKit]:
    """A fresh, unmigrated database of each kind (PostgreSQL: a schema of its own, dropped after)."""
    with sql_kit(request.param, tmp_path) as fresh:
        yield fresh
