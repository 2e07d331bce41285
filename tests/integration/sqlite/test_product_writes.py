"""Product writes with NULL-folded statements: whatever columns a batch leaves empty, every
product reads back exactly as written, and the counts come out as with every column bound."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import feeds
from support.examples import examples
from support.sqlite_files import migrated_database

from partner_ingest.adapters_out.sqlite.products import (
    UPSERT_SQL,
    SqliteFeedSkuRegister,
    batch_time,
    multi_row_statement,
    null_columns,
    stamped,
    upsert_sql,
    upsert_statement,
)
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import Dimensions, Partner, Product
from partner_ingest.domain.model.product import PRODUCT_COLUMNS

OPTIONAL = ("brand", "manufacturer", "gtin", "description", "image_url", "dimensions", "extra")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _store(directory: str) -> SqliteStore:
    store = SqliteStore(migrated_database(Path(directory) / "writes.db"))
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=T0, default_version=2))
        uow.commit()
    return store


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the partner, closed: each example writes to a copy of it
    rather than run every migration again."""
    directory = tmp_path_factory.mktemp("template")
    _store(str(directory)).close()
    assert not (directory / "writes.db-wal").exists(), "closed, the WAL is in the file a copy takes"
    return directory / "writes.db"


@settings(max_examples=examples(40))
@given(
    batch=feeds(2, max_size=12),
    blank=st.sets(st.sampled_from(OPTIONAL)),
    changed=st.integers(0, 12),
)
def test_a_batch_round_trips_whatever_columns_it_leaves_empty(
    migrated: Path, batch: list[Product], blank: set[str], changed: int
) -> None:
    blanks: dict[str, Any] = {name: ({} if name == "extra" else None) for name in blank}
    batch = [attrs.evolve(p, partner_id="acme", **blanks) for p in batch]
    with tempfile.TemporaryDirectory() as directory:
        shutil.copyfile(migrated, Path(directory) / "writes.db")
        store = SqliteStore(Path(directory) / "writes.db")
        try:
            with store.unit_of_work() as uow:
                assert uow.products.upsert([p.to_row() for p in batch]) == (len(batch), 0, 0)
                uow.commit()
            # Fill a blank column in some products: the statement differs, the counts must not.
            edited = [
                attrs.evolve(p, brand="Filled") if n < changed and p.brand != "Filled" else p
                for n, p in enumerate(batch)
            ]
            updates = sum(1 for old, new in zip(batch, edited, strict=True) if old != new)
            with store.unit_of_work() as uow:
                written = uow.products.upsert([p.to_row() for p in edited])
                assert written == (0, updates, len(batch) - updates)
                uow.commit()
            with store.unit_of_work(read_only=True) as uow:
                assert [uow.products.get("acme", p.sku) for p in edited] == edited
        finally:
            store.close()


@settings(max_examples=examples(40))
@given(
    batch=feeds(2, max_size=12).filter(bool),
    blank=st.sets(st.sampled_from(OPTIONAL)),
    stored=st.integers(0, 12),
    changed=st.integers(0, 12),
    retired=st.integers(0, 12),
)
def test_the_multi_row_statement_writes_and_counts_what_executemany_does(
    migrated: Path, batch: list[Product], blank: set[str], stored: int, changed: int, retired: int
) -> None:
    # A small batch is one multi-row statement: over the same stored products (some of the
    # batch stored, some of those changed, some retired), it leaves the table and the change
    # count executemany of the one-row statement leaves.
    blanks: dict[str, Any] = {name: ({} if name == "extra" else None) for name in blank}
    batch = [attrs.evolve(p, partner_id="acme", **blanks) for p in batch]
    before = [
        (attrs.evolve(p, brand="Before") if n < changed else p).to_row() for n, p in enumerate(batch[:stored])
    ]
    rows = [p.to_row() for p in batch]
    tables = []
    writes: tuple[tuple[str, Callable[[sqlite3.Connection], sqlite3.Cursor]], ...] = (
        (
            "many",
            lambda conn: conn.executemany(*upsert_statement(rows, "2026-03-02T00:00:00.000Z", "f2")),
        ),
        ("one", lambda conn: conn.execute(*multi_row_statement(rows, "2026-03-02T00:00:00.000Z", "f2"))),
    )
    with tempfile.TemporaryDirectory() as directory:
        for name, write in writes:
            shutil.copyfile(migrated, Path(directory) / f"{name}.db")
            store = SqliteStore(Path(directory) / f"{name}.db")
            try:
                conn = store.connection()
                if before:
                    conn.executemany(*upsert_statement(before, "2026-03-01T00:00:00.000Z", "f1"))
                conn.execute(
                    "UPDATE product SET retired_at = updated_at WHERE id IN"
                    " (SELECT id FROM product ORDER BY sku LIMIT ?)",
                    (retired,),
                )
                count = write(conn).rowcount
                table = conn.execute(
                    f"SELECT id, {', '.join(PRODUCT_COLUMNS)}, created_at, updated_at, feed_id, retired_at"
                    " FROM product ORDER BY id"
                ).fetchall()
                tables.append((count, table))
            finally:
                store.close()
    assert tables[0] == tables[1]
    assert len(tables[0][1]) == len(batch)


def test_empty_text_and_zero_are_values_not_nulls(tmp_path: Path) -> None:
    # Falsy values in a column that is otherwise NULL must be bound, not folded away.
    store = _store(str(tmp_path))
    base = Product(partner_id="acme", sku="A", name="A", price=0, currency="EUR", quantity=0)  # type: ignore[arg-type]
    blank_description = list(base.to_row())
    blank_description[PRODUCT_COLUMNS.index("description")] = ""
    rows: list[Any] = [tuple(blank_description), attrs.evolve(base, sku="B").to_row()]
    assert PRODUCT_COLUMNS.index("description") not in null_columns(rows)
    assert PRODUCT_COLUMNS.index("brand") in null_columns(rows)
    with store.unit_of_work() as uow:
        uow.products.upsert(rows)
        uow.commit()
    stored = (
        store.connection().execute("SELECT sku, description, quantity FROM product ORDER BY sku").fetchall()
    )
    assert stored == [("A", "", 0), ("B", None, 0)]
    store.close()


def test_the_folded_statement_writes_what_the_full_one_writes(tmp_path: Path) -> None:
    base = Product(partner_id="acme", sku="S", name="N", price=1, currency="EUR", quantity=1, brand="B")  # type: ignore[arg-type]
    rows = [attrs.evolve(base, sku=f"S{n}", quantity=n).to_row() for n in range(3)]
    (tmp_path / "full").mkdir()
    (tmp_path / "folded").mkdir()
    full, folded = _store(str(tmp_path / "full")), _store(str(tmp_path / "folded"))
    # The statement with every column bound, as the benchmark's limit runs it (autocommit).
    full.connection().executemany(UPSERT_SQL, stamped(rows, batch_time()))
    with folded.unit_of_work() as uow:
        uow.products.upsert(rows)
        uow.commit()
    query = f"SELECT {', '.join(PRODUCT_COLUMNS)} FROM product ORDER BY sku"
    assert full.connection().execute(query).fetchall() == folded.connection().execute(query).fetchall()
    assert len(folded.connection().execute(query).fetchall()) == 3
    full.close()
    folded.close()


def test_a_feeds_skus_move_from_memory_to_a_temp_table_and_repeats_are_found_in_both(tmp_path: Path) -> None:
    store = _store(str(tmp_path))
    conn = store.connection()
    with store.unit_of_work():
        register = SqliteFeedSkuRegister(conn, in_memory=3)
        assert register.repeated(["A", "B\x00x", "A"]) == [2]  # within a batch, in the set
        assert register.repeated(["C", "B"]) == []  # "B" is not "B\x00x"
        # Four SKUs now: past the set's size, they moved to the temp table.
        assert conn.execute("SELECT count(*) FROM temp.feed_sku").fetchone() == (4,)
        assert register.repeated(["D", "A", "D", "B\x00x"]) == [1, 2, 3]
        assert register.repeated(["E", "C"]) == [1]
    store.close()


_FULL = Product(
    partner_id="acme", sku="S", name="N", price=Decimal("10"), currency="EUR", quantity=1, brand="B",
    manufacturer="M", gtin="4006381333931", description="D", image_url="https://img.example.com/1.jpg",
    dimensions=Dimensions(Decimal("1"), Decimal("2"), Decimal("3"), "cm"), sale_price=Decimal("9"),
    sale_starts_at=datetime(2026, 11, 27, tzinfo=UTC), sale_ends_at=datetime(2026, 12, 2, tzinfo=UTC),
    extra={"colour": "red"},
)  # fmt: skip


@pytest.mark.parametrize(
    "empty",
    [
        (),
        ("extra",),
        ("sale_price", "sale_starts_at", "sale_ends_at", "extra"),
        ("brand",),
        ("gtin", "extra"),
    ],
)
def test_a_folded_statements_parameters_are_the_values_of_the_columns_it_did_not_fold(
    empty: tuple[str, ...],
) -> None:
    # Folded trailing columns take a slice of each row, any others an itemgetter: the same values.
    cleared: dict[str, Any] = dict.fromkeys(empty)
    rows = [attrs.evolve(_FULL, sku=f"S{n}", quantity=n, **cleared).to_row() for n in range(3)]
    folded = null_columns(rows)
    assert {PRODUCT_COLUMNS[position] for position in folded} == set(empty)
    sql, parameters = upsert_statement(rows, "2026-01-01T00:00:00.000Z", "feed-1")
    assert parameters == [
        (*(v for i, v in enumerate(row) if i not in folded), "2026-01-01T00:00:00.000Z", "feed-1")
        for row in rows
    ]
    assert sql == upsert_sql(folded)


def test_none_is_bound_as_null_through_the_librarys_adapter(tmp_path: Path) -> None:
    """A library connection binds None through its adapter (no failed attribute lookup per
    None), and None is still stored as NULL: in a plain column, a NOT NULL check, a compare."""
    import sqlite3

    from partner_ingest.adapters_out.sqlite.connection import connect

    conn = connect(tmp_path / "none.db")
    try:
        assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
        conn.execute("CREATE TABLE t (a TEXT, b INTEGER NOT NULL DEFAULT 0)")
        conn.executemany("INSERT INTO t (a) VALUES (?)", [(None,), ("x",)])
        assert conn.execute("SELECT typeof(a), a IS NULL FROM t ORDER BY rowid").fetchall() == [
            ("null", 1),
            ("text", 0),
        ]
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO t (a, b) VALUES (?, ?)", ("y", None))
        assert conn.execute("SELECT ? IS NULL, ? = ?", (None, None, None)).fetchone() == (1, None)
    finally:
        conn.close()


def test_an_adapter_for_none_registered_first_is_kept() -> None:
    import sqlite3

    from partner_ingest.adapters_out.sqlite import connection

    key = (type(None), sqlite3.PrepareProtocol)
    before = sqlite3.adapters.pop(key, None)

    def theirs(value: None) -> str:
        return "theirs"

    try:
        sqlite3.register_adapter(type(None), theirs)
        connection.bind_none_directly.cache_clear()
        connection.bind_none_directly()
        assert sqlite3.adapters[key] is theirs
    finally:
        sqlite3.adapters.pop(key, None)
        if before is not None:
            sqlite3.adapters[key] = before
        connection.bind_none_directly.cache_clear()
