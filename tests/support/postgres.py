"""Reaching the test PostgreSQL server: skipped, visibly, where none is configured.

Every store or database URL handed out here lives in a schema of its own
(`partner_ingest_test_<random>`), dropped when the test is done, so test runs
sharing one server never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from partner_ingest.adapters_out.postgres.store import PostgresStore

ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The configured server URL, or a skip with the reason."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {ENV} (CI sets it to postgresql://postgres@127.0.0.1:5432/test)")
    return url


def url_with_schema(url: str, schema: str) -> str:
    """`url` with `options=-csearch_path=<schema>`: how a deployment names the store's schema."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def new_schema_name() -> str:
    """A schema name no other test run uses."""
    from partner_ingest.adapters_out.postgres.store import TEST_SCHEMA_PREFIX

    return TEST_SCHEMA_PREFIX + secrets.token_hex(6)


def drop_schema(url: str, schema: str) -> None:
    """Remove a test schema and everything in it (nothing when it was never created)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database URL naming a fresh schema (created by the first store that opens it), dropped afterwards."""
    url = postgres_url()
    schema = new_schema_name()
    try:
        yield url_with_schema(url, schema)
    finally:
        drop_schema(url, schema)


@contextmanager
def postgres_store() -> Iterator[PostgresStore]:
    """A PostgreSQL store in a fresh schema, dropped afterwards."""
    url = postgres_url()
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    store = PostgresStore.for_tests(url)
    try:
        yield store
    finally:
        store.drop_schema_and_close()
