"""The writer's units of work (adapters_out/sql/writer.py, ADR 0043), on either engine: they open
only inside a call the writer runs, one at a time, and an undone one gives its savepoint back."""

from __future__ import annotations

from typing import cast

import pytest
from support.sql_stores import SqlKit
from support.writer_calls import call

from partner_ingest.adapters_out.postgres.store import PostgresStore
from partner_ingest.adapters_out.postgres.writer import PostgresWriter
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.sqlite.writer import SqliteWriter


def test_units_of_work_open_only_inside_a_call_and_one_at_a_time(kit: SqlKit) -> None:
    store = kit.migrated_store()
    writer: SqliteWriter | PostgresWriter = (
        SqliteWriter(cast("SqliteStore", store))
        if kit.kind == "sqlite"
        else PostgresWriter(cast("PostgresStore", store))
    )
    with pytest.raises(RuntimeError, match="only inside a call"):
        writer.unit_of_work()

    def nested() -> str:
        with writer.unit_of_work() as outer:
            with pytest.raises(RuntimeError, match="already has a unit of work open"):
                writer.unit_of_work().__enter__()
            outer.rollback()
        with writer.unit_of_work() as uow:  # the savepoint was given back
            uow.commit()
        return "ok"

    assert call(writer, nested) == "ok"
    writer.close()
    store.close()
