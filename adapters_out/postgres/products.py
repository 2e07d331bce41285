"""The `product` table: batch upserts through COPY, counted by the database itself.

One batch is three statements on the unit of work's connection:

1. COPY the rows into a session-private staging table (`pg_temp`, created once
   per connection, ON COMMIT DELETE ROWS);
2. INSERT ... SELECT from it ... ON CONFLICT (partner_id, sku) DO UPDATE ...
   WHERE the stored columns are DISTINCT FROM the new ones, so an unchanged
   product is never rewritten; the statement counts what it wrote from
   RETURNING (xmax = 0): a freshly inserted row has no xmax, an updated one
   carries the upserting transaction's;
3. TRUNCATE the staging table for the next batch.

The import that writes the batch (`feed_id`, ADR 0033) is one parameter of
the INSERT ... SELECT, not a column of the COPY: every row of a batch has the
same, so the rows copied stay the product values alone.

Created and updated come from that count, unchanged is the rest: no per-item
SELECT, no per-item commit. Rows are written in key order, so two feeds
touching the same products lock them in the same order and queue rather than
deadlock; where they still do (the same SKUs in different batches), the
loser gets StoreBusyError, which the HTTP layer answers 503 and a worker
retries. COPY is measured against `executemany` of the same upsert (ADR 0018,
`make bench`): it is the faster, because executemany pays the server's
per-statement cost once per product.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, cast

import psycopg

from partner_ingest.adapters_out.store_errors import StoreBusyError
from partner_ingest.domain.model.product import NAME, PRODUCT_COLUMNS, SKU, Product, ProductRow
from partner_ingest.ports.repositories import NameMatches, UpsertCounts

from .connection import Connection

__all__ = [
    "COPY_SQL",
    "SESSION_TABLES",
    "STAGE",
    "UPSERT_FROM_STAGE_SQL",
    "UPSERT_ROW_SQL",
    "PostgresFeedSkuRegister",
    "PostgresProductRepository",
]

STAGE: Final = "pg_temp.partner_ingest_product_stage"
"""The staging table a batch is copied into (one per session, invisible to the others)."""
_FEED_SKU: Final = "pg_temp.partner_ingest_feed_sku"

_COLUMNS: Final = ", ".join(PRODUCT_COLUMNS)
_DATA: Final = PRODUCT_COLUMNS[NAME:]  # every value an upsert compares and rewrites
_TYPES: Final = {"quantity": "bigint", "partner_id": 'text COLLATE "C"', "sku": 'text COLLATE "C"'}

SESSION_TABLES: Final = (
    f"CREATE TEMP TABLE {STAGE} ("
    + ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in PRODUCT_COLUMNS)
    + ") ON COMMIT DELETE ROWS",
    f'CREATE TEMP TABLE {_FEED_SKU} (sku text COLLATE "C" PRIMARY KEY) ON COMMIT DELETE ROWS',
)
"""Run once by every new session (see connection.make_pool)."""

_ON_CONFLICT: Final = (
    "ON CONFLICT (partner_id, sku) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _DATA)
    + ", updated_at = EXCLUDED.updated_at, feed_id = EXCLUDED.feed_id, retired_at = NULL "
    f"WHERE ({', '.join(f'product.{c}' for c in _DATA)}) IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in _DATA)})"
    " OR product.retired_at IS NOT NULL"  # a retired product named again is restored
)

COPY_SQL: Final = f"COPY {STAGE} ({_COLUMNS}) FROM STDIN"

UPSERT_FROM_STAGE_SQL: Final = (
    f"WITH written AS (INSERT INTO product ({_COLUMNS}, created_at, updated_at, feed_id)"
    f" SELECT {_COLUMNS}, now(), now(), %s::text FROM {STAGE} ORDER BY partner_id, sku {_ON_CONFLICT}"
    " RETURNING (xmax = 0) AS created)"
    " SELECT count(*) FILTER (WHERE created), count(*) FROM written"
)
"""The statement of every product write (its one parameter: the import writing the batch);
the benchmark's raw limit runs it too."""

UPSERT_ROW_SQL: Final = (
    f"INSERT INTO product ({_COLUMNS}, created_at, updated_at, feed_id)"
    f" VALUES ({', '.join(['%s'] * len(PRODUCT_COLUMNS))}, now(), now(), %s) {_ON_CONFLICT}"
    " RETURNING (xmax = 0)"
)
"""The same upsert one row at a time, for `executemany` (parameters: the row, then the feed
id): the alternative the benchmark measures."""

_SELECT: Final = f"SELECT {_COLUMNS} FROM product"
_READ: Final = f"SELECT {_COLUMNS}, feed_id FROM product"
"""A product as read back: its row, then the import that wrote it (see `_product`)."""
_FEED_ID: Final = len(PRODUCT_COLUMNS)


def _product(row: tuple[object, ...]) -> Product:
    """The product of a `_READ` row."""
    feed_id = row[_FEED_ID]
    return Product.from_row(
        cast("ProductRow", row[:_FEED_ID]), feed_id=None if feed_id is None else str(feed_id)
    )


class PostgresProductRepository:
    """Products of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.wrote = False
        """Did this transaction write products (and so change records, numbered at commit)?"""

    def upsert(self, rows: Sequence[ProductRow], *, feed_id: str | None = None) -> UpsertCounts:
        """Insert new, rewrite changed, leave unchanged; counted by the database. The rows
        written record `feed_id`."""
        if not rows:
            return UpsertCounts(0, 0, 0)
        self.wrote = True
        with self._conn.cursor() as cur:
            with cur.copy(COPY_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
            try:
                counted = cur.execute(UPSERT_FROM_STAGE_SQL, (feed_id,)).fetchone()
            except psycopg.errors.DeadlockDetected as error:
                raise StoreBusyError(
                    "a concurrent feed was writing the same products in another order; retry this feed"
                ) from error
            cur.execute(f"TRUNCATE {STAGE}")
        assert counted is not None
        created, changed = int(counted[0]), int(counted[1])
        return UpsertCounts(created, changed - created, len(rows) - changed)

    def get(self, partner_id: str, sku: str, *, retired: bool = False) -> Product | None:
        """One product (active, or retired when asked), or None."""
        row = self._conn.execute(
            f"{_READ} WHERE partner_id = %s AND sku = %s AND {_state(retired)}", (partner_id, sku)
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
        """A page in SKU order (keyset pagination on the unique index; "C" collation = code point
        order); `updated_since` filters the rows it walks."""
        since = "" if updated_since is None else " AND updated_at >= %s"
        params: tuple[object, ...] = (partner_id, after_sku or "")
        if updated_since is not None:
            params += (updated_since,)
        rows = self._conn.execute(
            f"{_READ} WHERE partner_id = %s AND sku > %s AND {_state(retired)}{since} ORDER BY sku LIMIT %s",
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
        """Active products whose names hold `text`, ASCII case ignored (lower() under the "C" collation folds ASCII
        only, as SQLite's LIKE does), in SKU order, among the next `scan` products of the
        (partner_id, sku) index: bounded however rare the name (no name index: ADR 0038)."""
        start = after_sku or ""
        # The window's last SKU, read from the index alone; the search then walks that range of
        # the index in SKU order and stops at `limit` matches (no sort, no materialized window).
        end = self._conn.execute(
            "SELECT sku FROM product WHERE partner_id = %s AND sku > %s ORDER BY sku LIMIT 1 OFFSET %s",
            (partner_id, start, scan - 1),
        ).fetchone()
        last = None if end is None else str(end[0])
        bounded = "" if last is None else " AND sku <= %s"
        params = (partner_id, start) + (() if last is None else (last,)) + (text, limit)
        rows = self._conn.execute(
            f"{_READ} WHERE partner_id = %s AND sku > %s{bounded} AND retired_at IS NULL"
            ' AND strpos(lower(name COLLATE "C"), lower(%s COLLATE "C")) > 0 ORDER BY sku LIMIT %s',
            params,
        ).fetchall()
        more = (
            last is not None
            and self._conn.execute(
                "SELECT 1 FROM product WHERE partner_id = %s AND sku > %s LIMIT 1", (partner_id, last)
            ).fetchone()
        )
        return NameMatches([_product(row) for row in rows], last if more else None)

    def count(self, partner_id: str) -> int:
        """How many active products a partner has."""
        row = self._conn.execute(
            "SELECT count(*) FROM product WHERE partner_id = %s AND retired_at IS NULL", (partner_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def current(self, partner_id: str, skus: Sequence[str]) -> dict[str, ProductRow]:
        """The rows of those of `skus` that are active products."""
        if not skus:
            return {}
        rows = self._conn.execute(
            f"{_SELECT} WHERE partner_id = %s AND sku = ANY(%s) AND retired_at IS NULL",
            (partner_id, list(skus)),
        ).fetchall()
        return {row[SKU]: row for row in rows}

    def retire(self, partner_id: str, skus: Sequence[str], at: datetime) -> int:
        """Retire the active ones of `skus`, in SKU order (the order upserts lock in); how many were."""
        if not skus:
            return 0
        self.wrote = True
        cursor = self._conn.execute(
            "UPDATE product SET retired_at = %s, updated_at = %s FROM ("
            " SELECT id FROM product WHERE partner_id = %s AND sku = ANY(%s) AND retired_at IS NULL"
            " ORDER BY sku FOR UPDATE) AS target WHERE product.id = target.id",
            (at, at, partner_id, list(skus)),
        )
        return cursor.rowcount

    def purge_retired(self, before: datetime) -> int:
        """Delete the products retired before `before`."""
        return self._conn.execute(
            "DELETE FROM product WHERE retired_at IS NOT NULL AND retired_at < %s", (before,)
        ).rowcount


def _state(retired: bool) -> str:
    return "retired_at IS NOT NULL" if retired else "retired_at IS NULL"


# The batch travels as one text value split by the server: a text[] parameter costs five times
# as much to build and to parse. Every key is "." + SKU, so no key is empty (string_to_array
# drops a lone empty string); a SKU the text cannot carry (a newline, NUL, a lone surrogate:
# only invalid items have them) is "\x1b" + its UTF-8 in hex instead, which no "." key equals.
# ON CONFLICT DO NOTHING with RETURNING answers "which keys are new" through the primary key
# alone, with no plan to choose: a join against the table let the planner pick a hash join
# that scans the whole table for every batch once it had grown (quadratic in the feed).
_RECORD: Final = f"INSERT INTO {_FEED_SKU} (sku) SELECT unnest(string_to_array(%s, E'\\n')) ON CONFLICT DO NOTHING RETURNING sku"


def _key(sku: str) -> str:
    if "\n" in sku or "\x00" in sku:
        return "\x1b" + sku.encode("utf-8", "surrogatepass").hex()
    try:
        sku.encode("utf-8")
    except UnicodeEncodeError:
        return "\x1b" + sku.encode("utf-8", "surrogatepass").hex()
    return "." + sku


def _keys(skus: Sequence[str]) -> str:
    """The batch's keys, newline-separated (the common batch costs one join, at C speed)."""
    text = "." + "\n.".join(skus)
    if text.count("\n") == len(skus) - 1 and "\x00" not in text:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return text
    return "\n".join(_key(sku) for sku in skus)


class PostgresFeedSkuRegister:
    """The SKUs of the feed in progress, in a session temp table emptied at every commit.

    One statement per batch records its keys and returns those that were new; when that is
    all of them (the common batch) nothing else is read. Otherwise a position repeats when its
    key was not new (an earlier batch had it) or came earlier in this batch.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._recorded = False

    def forget(self) -> None:
        """Empty the register before the transaction ends: a grouped unit of work's feed shares
        its transaction (and so this session table) with the next member's feed."""
        if self._recorded:
            self._conn.execute(f"DELETE FROM {_FEED_SKU}")
            self._recorded = False

    def unseen(self, partner_id: str) -> list[str]:
        """The partner's active SKUs this feed has not named (one anti-join on the primary key)."""
        rows = self._conn.execute(
            f"SELECT p.sku FROM product AS p WHERE p.partner_id = %s AND p.retired_at IS NULL"
            f" AND NOT EXISTS (SELECT 1 FROM {_FEED_SKU} AS f WHERE f.sku = '.' || p.sku) ORDER BY p.sku",
            (partner_id,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def repeated(self, skus: Sequence[str]) -> list[int]:
        """Record a batch; positions of SKUs seen earlier in the feed or in the batch."""
        if not skus:
            return []
        keys = _keys(skus)
        self._recorded = True
        cursor = self._conn.execute(_RECORD, (keys,))
        if cursor.rowcount == len(skus):
            return []
        new = {str(row[0]) for row in cursor}
        seen: set[str] = set()
        out = []
        for position, key in enumerate(keys.split("\n")):
            if key in new and key not in seen:
                seen.add(key)
            else:
                out.append(position)
        return out
