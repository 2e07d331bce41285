"""Reaching the test PostgreSQL server: skipped, visibly, where none is configured."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The configured server URL, or a skip with the reason."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {ENV} (CI sets it to postgresql://postgres@127.0.0.1:5432/test)")
    return url


@contextmanager
def postgres_store() -> Iterator[Any]:
    """A PostgreSQL store in a fresh schema, dropped afterwards."""
    url = postgres_url()
    try:
        from partner_ingest.adapters_out.postgres.store import PostgresStore
    except ImportError as error:  # the adapter lands with issue 6
        pytest.skip(f"the PostgreSQL adapter is not available: {error}")
    store = PostgresStore.for_tests(url)
    try:
        yield store
    finally:
        store.drop_schema_and_close()
