"""The `product` table: batch upserts that count created, updated and unchanged rows.

One `executemany` per batch (one multi-row statement for a small one): INSERT ... ON CONFLICT DO UPDATE ... WHERE the
stored values differ from the new ones (one row-value comparison, done by
SQLite), so an unchanged product is never rewritten. The batch's bookkeeping
time is taken once and bound as the last parameter of every row: SQLite's
`strftime(..., 'now')`, evaluated twice per row, is a visible share of the write;
the import that writes the batch (`feed_id`, ADR 0033) is bound after it the same way.
Comparing the columns in SQL costs next to nothing, where a content hash computed
in Python is a visible share of the per-item budget (ADR 0002; the figures, and
how to measure them again, are in ADR 0032).

A column that is NULL in every row of a batch (the sale window and `extra` of
most feeds, an optional field a partner never sends) is written as a NULL
literal instead of a parameter: the sqlite3 module binds None through its
adapter lookup, which raises and clears an AttributeError inside C each time,
and a few such parameters cost a large share of the write (`upsert_sql`, ADR 0002).

The counts come from the database, not from guesses:
- created: rows whose id is above the highest id before the batch (a new row
  always gets max(id) + 1, and the writer holds the lock for the batch);
- created + updated: the rows the statement changed (`rowcount`);
- unchanged: the rest.
No per-item SELECT, no per-item commit.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from operator import eq, is_, itemgetter
from typing import Final, NamedTuple, cast

from partner_ingest.adapters_out.sqlite.connection import second_text
from partner_ingest.domain.model.product import (
    BRAND,
    NAME,
    PARTNER_ID,
    PRODUCT_COLUMNS,
    SKU,
    Product,
    ProductRow,
)
from partner_ingest.domain.model.repeats import record_repeats
from partner_ingest.ports.repositories import NameMatches, UpsertCounts

from .changes import record_changes, record_payloads, sku_array

__all__ = [
    "UPSERT_SQL",
    "SqliteFeedSkuRegister",
    "SqliteProductRepository",
    "MULTI_ROW_MAX",
    "batch_time",
    "multi_row_statement",
    "null_columns",
    "stamped",
    "upsert_sql",
    "upsert_statement",
]

_DATA = PRODUCT_COLUMNS[NAME:]  # every value an upsert compares and rewrites
_PARTNER_OF: Final = itemgetter(PARTNER_ID)
_SKU_OF: Final = itemgetter(SKU)
_NULLABLE: Final = tuple(range(BRAND, len(PRODUCT_COLUMNS)))
"""Positions of the columns that may be NULL (brand onwards), the ones a batch may fold."""


def _row_values(nulls: frozenset[int], first: int) -> str:
    """One row of VALUES: NULL literals at the `nulls` positions, every other column a parameter
    in `PRODUCT_COLUMNS` order numbered from `first`."""
    values = []
    number = first
    for position in range(len(PRODUCT_COLUMNS)):
        if position in nulls:
            values.append("NULL")
        else:
            values.append(f"?{number}")
            number += 1
    return ", ".join(values)


def _upsert(rows: str) -> str:
    """The product write of the VALUES `rows` (each ending with its time twice and its import)."""
    return (
        f"INSERT INTO product ({', '.join(PRODUCT_COLUMNS)}, created_at, updated_at, feed_id) "
        f"VALUES {rows} "
        "ON CONFLICT (partner_id, sku) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _DATA)
        + ", updated_at = excluded.updated_at, feed_id = excluded.feed_id, retired_at = NULL "
        f"WHERE ({', '.join(f'product.{c}' for c in _DATA)}) IS NOT ({', '.join(f'excluded.{c}' for c in _DATA)})"
        " OR product.retired_at IS NOT NULL"  # a retired product named again is restored
    )


def upsert_sql(nulls: frozenset[int] = frozenset()) -> str:
    """The statement of a product write whose rows are NULL at the `nulls` positions:
    those are NULL literals, every other column a parameter in `PRODUCT_COLUMNS` order, then
    the batch's time and the import that writes it (see `stamped`). The feed id is written
    with the values, never compared: an unchanged product keeps the import that wrote it."""
    width = len(PRODUCT_COLUMNS) - len(nulls)
    now, feed = f"?{width + 1}", f"?{width + 2}"
    return _upsert(f"({_row_values(nulls, 1)}, {now}, {now}, {feed})")


UPSERT_SQL: Final = upsert_sql()
"""The statement with every column bound (parameters: `stamped` rows): what the benchmark's
raw limit and its pydantic baseline execute."""


@functools.lru_cache(maxsize=64)
def _folded(nulls: frozenset[int]) -> tuple[str, Callable[[ProductRow], tuple[object, ...]], int]:
    """The statement for rows NULL at `nulls`, what picks the other values of a row, and
    how many leading values of a row those are when they are its first ones (else 0)."""
    kept = [position for position in range(len(PRODUCT_COLUMNS)) if position not in nulls]
    leading = len(kept) if kept == list(range(len(kept))) else 0
    return upsert_sql(nulls), itemgetter(*kept), leading


def null_columns(rows: Sequence[ProductRow]) -> frozenset[int]:
    """Positions of the nullable columns that are None in every one of `rows`."""
    # Most batches leave the same optional columns empty in every row: the first row's empty
    # ones, checked in all rows at once by the C `itemgetter` and `==`, answer without a Python
    # step per row or column.
    candidates, pick, empty = _empty_in(tuple(map(is_, rows[0], _NONES)))
    if not candidates or all(map(eq, map(pick, rows), repeat(empty))):
        return candidates
    # Each candidate column read down the rows in C, stopping at its first value that is set:
    # a column most rows fill (the common reason the check above failed) costs a few rows,
    # where transposing the whole batch cost every value of every row. A column of falsy
    # values ("" or 0) is told from an empty one by counting.
    count = len(rows)
    return frozenset(
        [
            position
            for position in candidates
            if not any(map(_COLUMN[position], rows))
            and list(map(_COLUMN[position], rows)).count(None) == count
        ]
    )


_NONES: Final = (None,) * len(PRODUCT_COLUMNS)
_COLUMN: Final = tuple(itemgetter(position) for position in range(len(PRODUCT_COLUMNS)))
"""What picks each column's value from a row."""


@functools.lru_cache(maxsize=256)
def _empty_in(empty: tuple[bool, ...]) -> tuple[frozenset[int], Callable[[ProductRow], object], object]:
    """For a row empty at `empty`: its nullable empty positions, what picks them from a row,
    and what that picks from a row empty there too."""
    positions = [position for position in _NULLABLE if empty[position]]
    # itemgetter picks a value, not a tuple, when given one position.
    none: object = (None,) * len(positions) if len(positions) != 1 else None
    return frozenset(positions), itemgetter(*positions) if positions else _nothing, none


def _nothing(row: ProductRow) -> object:
    return None


def upsert_statement(
    rows: Sequence[ProductRow], at: str, feed_id: str | None = None
) -> tuple[str, list[tuple[object, ...]]]:
    """The statement and parameters that write `rows` at `at` for import `feed_id`, the columns
    the batch leaves empty folded into NULL literals."""
    sql, values, leading = _folded(null_columns(rows))
    time = (at, feed_id)
    if leading:
        # The folded columns are the row's last (`extra` of a strict partner's feed, most
        # often): a slice builds each row's parameters in half the time an itemgetter does.
        return sql, [row[:leading] + time for row in rows]
    return sql, [values(row) + time for row in rows]


MULTI_ROW_MAX: Final = 64
"""Batches of at most this many rows are written by one multi-row statement (`multi_row_statement`)."""


@functools.lru_cache(maxsize=256)
def _multi_row_sql(nulls: frozenset[int], rows: int) -> str:
    """`upsert_sql(nulls)` with `rows` rows of VALUES: the batch's time and import are ?1 and
    ?2, then each row's unfolded values in turn."""
    width = len(PRODUCT_COLUMNS) - len(nulls)
    return _upsert(", ".join(f"({_row_values(nulls, 3 + n * width)}, ?1, ?1, ?2)" for n in range(rows)))


def multi_row_statement(
    rows: Sequence[ProductRow], at: str, feed_id: str | None = None
) -> tuple[str, list[object]]:
    """What `upsert_statement` writes, as one statement of `rows` VALUES (at most
    `MULTI_ROW_MAX`): SQLite steps it once where `executemany` steps it a row at a time, each
    step releasing the GIL and waiting to take it back, which dominates a small feed's write
    in the busy writer thread (ADR 0043). The rows take the upsert in turn, as executemany's
    do, and the statement's change count is the sum of theirs."""
    nulls = null_columns(rows)
    _, values, leading = _folded(nulls)
    # Every row's values picked and laid end to end in C (a slice, when the folded columns
    # are the row's last, is the cheaper pick).
    pick = itemgetter(slice(leading)) if leading else values
    return _multi_row_sql(nulls, len(rows)), [at, feed_id, *chain.from_iterable(map(pick, rows))]


def batch_time() -> str:
    """Now, as stored in `created_at` / `updated_at` (UTC, milliseconds, like the other tables)."""
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    return f"{second_text(second)}.{nanos // 1_000_000:03d}Z"


def stamped(rows: Sequence[ProductRow], at: str, feed_id: str | None = None) -> list[tuple[object, ...]]:
    """The parameters of `UPSERT_SQL` for `rows` written at `at` by import `feed_id`."""
    time = (at, feed_id)
    return [row + time for row in rows]


_SELECT = f"SELECT {', '.join(PRODUCT_COLUMNS)} FROM product"
_READ = f"SELECT {', '.join(PRODUCT_COLUMNS)}, feed_id FROM product"
"""A product as read back: its row, then the import that wrote it (see `_product`)."""
_FEED_ID: Final = len(PRODUCT_COLUMNS)


def _product(row: tuple[object, ...]) -> Product:
    """The product of a `_READ` row."""
    feed_id = row[_FEED_ID]
    return Product.from_row(
        cast("ProductRow", row[:_FEED_ID]), feed_id=None if feed_id is None else str(feed_id)
    )


class _Stored(NamedTuple):
    """What a partner has stored of a batch's SKUs (one row of `_PROBE`)."""

    stored: int
    latest: str
    """When the most recently written of them was written."""
    retired: int
    """How many of them are retired (a write restores them)."""
    rows: str
    """Each of them as the JSON array [id, partner_id, sku, retired], in one JSON array."""


_PROBE: Final = (
    "SELECT count(*), max(updated_at), count(retired_at),"
    " json_group_array(json_array(id, partner_id, sku, retired_at IS NOT NULL)) FROM product"
    " WHERE partner_id = ? AND sku IN (SELECT value FROM json_each(?))"
)
"""The probe of a partner's stored products among SKUs: answered in one row, whose counts are
all that a batch of products all new or all stored and active needs (the common ones); the
rows themselves are read from its JSON only when the counts do not tell the change records."""


def _before(stored: Mapping[str, _Stored]) -> dict[tuple[str, str], tuple[int, bool]]:
    """The stored products of `stored`, by key: their id and whether each is retired."""
    return {
        (partner_id, sku): (row_id, bool(retired))
        for found in stored.values()
        for row_id, partner_id, sku, retired in json.loads(found.rows)
    }


def like_escaped(text: str) -> str:
    """`text` as a LIKE pattern's literal part (with ESCAPE '\\'): its wildcards match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqliteProductRepository:
    """Products of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def upsert(self, rows: Sequence[ProductRow], *, feed_id: str | None = None) -> UpsertCounts:
        """Insert new, rewrite changed, leave unchanged; counted by the database, and recorded in
        the change feed (ADR 0037) by one record per batch and kind. The rows written record
        `feed_id`."""
        if not rows:
            return UpsertCounts(0, 0, 0)
        conn = self._conn
        by_partner, payloads, stored = self._existing(rows)
        at = batch_time()
        latest = max((found.latest for found in stored.values()), default="")
        if latest >= at:
            # A product of this batch was written in this very millisecond (or a clock stepped
            # back): the batch takes a later time, so that `updated_at = at` names only the rows
            # this statement rewrote.
            at = _after(latest)
        if len(rows) <= MULTI_ROW_MAX:
            changed = conn.execute(*multi_row_statement(rows, at, feed_id)).rowcount
        else:
            changed = conn.executemany(*upsert_statement(rows, at, feed_id)).rowcount
        # The rows of one call have distinct keys, so every row not stored before was inserted.
        new = len(rows) - sum(found.stored for found in stored.values())
        counts = UpsertCounts(new, changed - new, len(rows) - changed)
        whole = all(
            found.stored == len(by_partner[partner_id]) and not found.retired
            for partner_id, found in stored.items()
        )
        if whole and (changed == len(rows) or changed <= new):
            # Each partner's SKUs all new or all stored and active (a feed sent again with new
            # prices, a catalog's first load): its records follow from the counts alone, with
            # no row of the probe read one by one. Created first, in batch order; then updated,
            # in (partner, SKU) order, as the general case below writes them.
            records = [
                (partner_id, "created", at, payload)
                for partner_id, payload in payloads.items()
                if partner_id not in stored
            ]
            if changed == len(rows):
                for partner_id in sorted(stored):
                    skus = by_partner[partner_id]
                    ordered = sorted(skus)
                    # A feed in SKU order (most are) has its record's JSON made already.
                    payload = payloads[partner_id] if ordered == skus else sku_array(ordered)
                    records.append((partner_id, "updated", at, payload))
            record_payloads(conn, records)
            return counts
        before = _before(stored)
        kinds: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            if (row[PARTNER_ID], row[SKU]) not in before:
                kinds.setdefault((row[PARTNER_ID], "created"), []).append(row[SKU])
        if changed == len(rows):
            # Every row was written, so every stored one was updated (or restored): nothing to ask
            # the database. In the order the query below reads them.
            for (partner_id, sku), (_, was_retired) in sorted(before.items()):
                kind = "restored" if was_retired else "updated"
                kinds.setdefault((partner_id, kind), []).append(sku)
        elif changed > new:
            ids = json.dumps([row_id for row_id, _ in before.values()])
            retired = {row_id for row_id, was_retired in before.values() if was_retired}
            for row_id, partner_id, sku in conn.execute(
                "SELECT id, partner_id, sku FROM product WHERE updated_at = ?"
                " AND id IN (SELECT value FROM json_each(?)) ORDER BY partner_id, sku",
                (at, ids),
            ):
                kind = "restored" if row_id in retired else "updated"
                kinds.setdefault((partner_id, kind), []).append(sku)
        record_changes(conn, kinds, at)
        return counts

    def _existing(
        self, rows: Sequence[ProductRow]
    ) -> tuple[dict[str, list[str]], dict[str, str], dict[str, _Stored]]:
        """Each partner's SKUs among `rows` (in batch order), the same as the JSON array its
        probe read, and what the partners with stored products among them have stored
        (one index probe per SKU)."""
        partners = set(map(_PARTNER_OF, rows))
        by_partner: dict[str, list[str]] = {}
        if len(partners) == 1:  # a feed's batch: one partner, its SKUs picked in C
            by_partner[partners.pop()] = list(map(_SKU_OF, rows))
        else:
            for row in rows:
                by_partner.setdefault(row[PARTNER_ID], []).append(row[SKU])
        payloads = {partner_id: sku_array(skus) for partner_id, skus in by_partner.items()}
        stored: dict[str, _Stored] = {}
        for partner_id, payload in payloads.items():
            skus = by_partner[partner_id]
            # One seek first: a batch of new products (a catalog's first load, in SKU order as
            # most exports are) has no stored product between its lowest and highest SKU, and
            # then needs none of the per-SKU probes (they cost the change records most of their
            # share of the upsert: ADR 0037). A small batch (a feed sent over HTTP) probes at
            # once: its few probes cost less than a statement more (ADR 0046).
            if len(skus) > MULTI_ROW_MAX and (
                self._conn.execute(
                    "SELECT 1 FROM product WHERE partner_id = ? AND sku BETWEEN ? AND ? LIMIT 1",
                    (partner_id, min(skus), max(skus)),
                ).fetchone()
                is None
            ):
                continue
            found = _Stored._make(self._conn.execute(_PROBE, (partner_id, payload)).fetchone())
            if found.stored:
                stored[partner_id] = found
        return by_partner, payloads, stored

    def get(self, partner_id: str, sku: str, *, retired: bool = False) -> Product | None:
        """One product (active, or retired when asked), or None."""
        row = self._conn.execute(
            f"{_READ} WHERE partner_id = ? AND sku = ? AND {_state(retired)}", (partner_id, sku)
        ).fetchone()
        return None if row is None else _product(row)

    def page(
        self,
        partner_id: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        retired: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        """A page in SKU order (keyset pagination on the unique index; `updated_since` filters
        the rows it walks: no index on updated_at, the change feed is the cheap way to follow)."""
        since = "" if updated_since is None else " AND updated_at >= ?"
        params: tuple[object, ...] = (partner_id, after_sku or "")
        if updated_since is not None:
            params += (_stamp(updated_since),)
        rows = self._conn.execute(
            f"{_READ} WHERE partner_id = ? AND sku > ? AND {_state(retired)}{since} ORDER BY sku LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_product(row) for row in rows]

    def search_names(
        self,
        partner_id: str,
        text: str,
        *,
        after_sku: str | None = None,
        limit: int = 100,
        scan: int = 20_000,
    ) -> NameMatches:
        """Active products whose names hold `text` (LIKE ignores ASCII case), in SKU order, among
        the next `scan` products of the (partner_id, sku) index: bounded however rare the name (no
        name index: ADR 0038). Retired products count in the scan but are never found."""
        start = after_sku or ""
        # The window's last SKU, read from the index alone; the search then walks that range of
        # the index in SKU order and stops at `limit` matches (no sort, no materialized window).
        end = self._conn.execute(
            "SELECT sku FROM product WHERE partner_id = ? AND sku > ? ORDER BY sku LIMIT 1 OFFSET ?",
            (partner_id, start, scan - 1),
        ).fetchone()
        last = None if end is None else str(end[0])
        bounded = "" if last is None else " AND sku <= ?"
        params = (partner_id, start) + (() if last is None else (last,)) + (f"%{like_escaped(text)}%", limit)
        rows = self._conn.execute(
            f"{_READ} WHERE partner_id = ? AND sku > ?{bounded} AND retired_at IS NULL"
            " AND name LIKE ? ESCAPE '\\' ORDER BY sku LIMIT ?",
            params,
        ).fetchall()
        more = (
            last is not None
            and self._conn.execute(
                "SELECT 1 FROM product WHERE partner_id = ? AND sku > ? LIMIT 1", (partner_id, last)
            ).fetchone()
        )
        return NameMatches([_product(row) for row in rows], last if more else None)

    def count(self, partner_id: str) -> int:
        """How many active products a partner has."""
        return int(
            self._conn.execute(
                "SELECT count(*) FROM product WHERE partner_id = ? AND retired_at IS NULL", (partner_id,)
            ).fetchone()[0]
        )

    def current(self, partner_id: str, skus: Sequence[str]) -> dict[str, ProductRow]:
        """The rows of those of `skus` that are active products."""
        if not skus:
            return {}
        rows = self._conn.execute(
            f"{_SELECT} WHERE partner_id = ? AND retired_at IS NULL"
            " AND sku IN (SELECT value FROM json_each(?))",
            (partner_id, json.dumps(list(skus))),
        ).fetchall()
        return {row[SKU]: row for row in rows}

    def retire(self, partner_id: str, skus: Sequence[str], at: datetime) -> int:
        """Retire the active ones of `skus`; how many were."""
        if not skus:
            return 0
        stamp = _stamp(at)
        chosen = (partner_id, json.dumps(list(skus)))
        # The change record first, from the rows the UPDATE is about to retire (same filter).
        leaving = [
            sku
            for (sku,) in self._conn.execute(
                "SELECT sku FROM product WHERE partner_id = ? AND retired_at IS NULL"
                " AND sku IN (SELECT value FROM json_each(?)) ORDER BY sku",
                chosen,
            )
        ]
        record_changes(self._conn, {(partner_id, "retired"): leaving}, stamp)
        return self._conn.execute(
            "UPDATE product SET retired_at = ?, updated_at = ? WHERE partner_id = ? AND retired_at IS NULL"
            " AND sku IN (SELECT value FROM json_each(?))",
            (stamp, stamp, *chosen),
        ).rowcount

    def purge_retired(self, before: datetime) -> int:
        """Delete the products retired before `before`."""
        return self._conn.execute(
            "DELETE FROM product WHERE retired_at IS NOT NULL AND retired_at < ?", (_stamp(before),)
        ).rowcount


def _state(retired: bool) -> str:
    return "retired_at IS NOT NULL" if retired else "retired_at IS NULL"


def _parse(stamp: str) -> datetime:
    """Inverse of `_stamp`."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _after(stamp: str) -> str:
    """The stored time a millisecond after `stamp` (a stored time)."""
    # Feeds of one batch that write the same products come within a millisecond of each other
    # (a partner sending its catalog again and again), so this is a common step of a small
    # feed's write: the milliseconds counted on in the text, the date parsed only to carry.
    milliseconds = stamp[20:23]
    if (
        stamp[19:20] == "."
        and stamp[23:] == "Z"
        and milliseconds.isascii()
        and milliseconds.isdigit()
        and milliseconds != "999"
    ):
        return f"{stamp[:20]}{int(milliseconds) + 1:03d}Z"
    return _stamp(_parse(stamp) + timedelta(milliseconds=1))


def _stamp(at: datetime) -> str:
    """`at` as the product table stores times (UTC, milliseconds; see `batch_time`)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_IN_MEMORY: Final = 10_000
"""SKUs a feed's register keeps in a set before it moves them to a temp table (bounds its memory)."""


class SqliteFeedSkuRegister:
    """The SKUs of the feed in progress: in a set, then in a temp table (disk, not RAM).

    Small feeds (every feed answered while its sender waits) fit the set: no
    statement at all. Past `in_memory` SKUs they move to the table, so a feed of
    millions holds no more memory than one of ten thousand: the set's SKUs are a
    large share of a big ingest's peak memory, and the table's batched insert costs
    little more CPU than the set (ADR 0039 has both figures). There, the common batch (no repeats)
    costs one statement: an INSERT OR IGNORE fed a JSON array, whose row count
    proves that every SKU was new. Only a batch with a repeat is rolled back to a
    savepoint and looked at closely.
    """

    def __init__(self, conn: sqlite3.Connection, *, in_memory: int = _IN_MEMORY) -> None:
        self._conn = conn
        self._seen: set[str] | None = set()
        self._in_memory = in_memory

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Record a batch; positions of SKUs seen earlier in the feed or in the batch."""
        if not skus:
            return []
        seen = self._seen
        if seen is None:
            return self._repeated_in_table(skus)
        out = record_repeats(seen, skus)
        if len(seen) > self._in_memory:
            self._seen = None
            self._conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS feed_sku (sku TEXT PRIMARY KEY) WITHOUT ROWID"
            )
            self._conn.execute("DELETE FROM temp.feed_sku")
            self._conn.execute(_RECORD, (_payload(list(seen)),))
        return out

    def unseen(self, partner_id: str) -> list[str]:
        """The partner's active SKUs this feed has not named."""
        conn = self._conn
        seen = self._seen
        if seen is not None:
            active = conn.execute(
                "SELECT sku FROM product WHERE partner_id = ? AND retired_at IS NULL ORDER BY sku",
                (partner_id,),
            )
            return [sku for (sku,) in active if sku not in seen]
        return [
            sku
            for (sku,) in conn.execute(
                "SELECT sku FROM product WHERE partner_id = ? AND retired_at IS NULL"
                " AND sku NOT IN (SELECT sku FROM temp.feed_sku) ORDER BY sku",
                (partner_id,),
            )
        ]

    def _repeated_in_table(self, skus: Sequence[str]) -> list[int]:
        conn = self._conn
        payload = _payload(skus)
        conn.execute("SAVEPOINT feed_sku")
        inserted = conn.execute(_RECORD, (payload,)).rowcount
        if inserted == len(skus):
            conn.execute("RELEASE feed_sku")
            return []
        conn.execute("ROLLBACK TO feed_sku")
        conn.execute("RELEASE feed_sku")
        earlier = {
            key
            for (key,) in conn.execute(
                "SELECT j.key FROM json_each(?) AS j JOIN temp.feed_sku AS s ON s.sku = j.value", (payload,)
            )
        }
        conn.execute(_RECORD, (payload,))
        seen: set[str] = set()
        out = []
        for position, sku in enumerate(skus):
            if position in earlier or sku in seen:
                out.append(position)
            else:
                seen.add(sku)
        return out


def _payload(skus: Sequence[str]) -> str:
    """SKUs as the JSON array `_RECORD` reads (made by `sku_array`: the batch's upsert asks
    for the same array next)."""
    payload = sku_array(skus)
    if "\\u0000" in payload or "\\u001b" in payload:  # rare: only invalid items carry these
        payload = json.dumps([_key(sku) for sku in skus])
    return payload


_RECORD = "INSERT OR IGNORE INTO temp.feed_sku (sku) SELECT value FROM json_each(?)"


def _key(sku: str) -> str:
    # SQLite's JSON functions end a text value at NUL, so "ABC\x00junk" (an invalid item's SKU)
    # would be recorded as "ABC" and a valid "ABC" after it reported as a repeat. Such SKUs are
    # recorded as ESC + their UTF-8 in hex; a SKU starting with ESC is too, so no two collide.
    if "\x00" in sku or sku.startswith("\x1b"):
        return "\x1b" + sku.encode("utf-8", "surrogatepass").hex()
    return sku
