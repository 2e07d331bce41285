"""The engines' dialects (ADR 0040): what the shared SQL leaves open, spelled per engine.

PostgreSQL's spelling is checked without a server (it is text); the round trips of every row
kind run in the contract suites over both engines.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from partner_ingest.adapters_out.postgres.dialect import POSTGRES, PostgresDialect
from partner_ingest.adapters_out.sql.jobs import JOB_SELECT, JobRow
from partner_ingest.adapters_out.sqlite.dialect import SQLITE
from partner_ingest.domain.model import ConflictError
from partner_ingest.domain.model.audit_chain import time_text

MOMENT = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)


def test_postgres_spells_placeholders_and_keeps_a_literal_percent() -> None:
    sql = "SELECT a FROM t WHERE b = ? AND c LIKE 'x%' AND d = ?"
    assert POSTGRES.sql(sql) == "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d = %s"
    assert SQLITE.sql(sql) == sql


def test_postgres_spells_a_statement_once_and_bounds_what_it_keeps() -> None:
    dialect = PostgresDialect()
    first = dialect.sql("SELECT ?")
    assert dialect.sql("SELECT ?") is first
    for n in range(3000):  # statements built per call (IN lists) must not grow the cache forever
        dialect.sql(f"SELECT {n} WHERE a IN ({', '.join('?' * (n % 7 + 1))})")
    assert len(dialect._spelled) <= 1024


def test_times_round_trip_in_each_engines_stored_form() -> None:
    stored = SQLITE.time(MOMENT)
    assert stored == "2026-03-01T12:30:05.123456Z"
    assert SQLITE.from_time(stored) == MOMENT
    assert POSTGRES.time(MOMENT) is MOMENT
    assert SQLITE.opt_time(None) is None and SQLITE.opt_from_time(None) is None
    # The chain covers the same text whichever engine stored the time.
    assert SQLITE.chain_time(stored) == POSTGRES.chain_time(MOMENT) == time_text(MOMENT)


def test_postgres_makes_free_text_storable_and_sqlite_keeps_it() -> None:
    hostile = "bad\x00byte \udcff"
    assert "\x00" not in POSTGRES.text(hostile)
    assert SQLITE.text(hostile) == hostile


def test_sqlite_turns_a_violated_constraint_into_a_conflict() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(ConflictError), SQLITE.conflicts(conn, "row 'a'"):
        conn.execute("INSERT INTO t VALUES ('a')")


def test_a_row_kind_names_its_columns_in_select_order() -> None:
    assert JOB_SELECT.split(", ")[JobRow._fields.index("source")] == "source"
    assert "CAST(policy AS TEXT)" in JOB_SELECT  # jsonb read back as the text that was written
