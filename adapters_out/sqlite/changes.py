"""`partner_product_changes`: the change feed, written with the products (ADR 0037).

The product repository (products.py) records every product it creates, updates,
retires or restores, in the same transaction: one record per batch and kind, holding
the batch's SKUs as a JSON array (a row per product cost the upsert 20-70%: ADR
0037). A change's cursor is its record's id and its position in the record
("12.0", "12.1", ...). SQLite has one writer at a time, holding the write lock from
its first write to its commit, so record ids increase in commit order;
AUTOINCREMENT never reuses the id of a purged record, so a cursor never points
before a newer one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii

from partner_ingest.domain.model.changes import Change, ChangeKind
from partner_ingest.domain.model.errors import InvalidCursor

from .connection import from_timestamp, timestamp

__all__ = ["SqliteChangeFeed", "record_changes", "record_payloads", "sku_array"]

_SELECT = "SELECT id, partner_id, kind, at, skus FROM partner_product_changes"


def record_changes(conn: sqlite3.Connection, kinds: Mapping[tuple[str, str], Sequence[str]], at: str) -> None:
    """One record per (partner, kind) of `kinds` that names a SKU, written at `at` (stored form)."""
    record_payloads(
        conn,
        [(partner_id, kind, at, sku_array(skus)) for (partner_id, kind), skus in kinds.items() if skus],
    )


def sku_array(skus: Iterable[str]) -> str:
    """`json.dumps(list(skus))`, each SKU escaped by the json module's C function without the
    encoder's setup, which took most of the time of the few SKUs of a small feed.

    The last array made is kept: a batch's SKUs are written as JSON twice, by the feed's SKU
    register (products.py, `SqliteFeedSkuRegister`) and by the upsert's probe and change
    record, and the second is then a comparison of the SKUs (the same objects, compared by
    identity first) instead of escaping every one again."""
    key = tuple(skus)
    known, text = _LAST[0]
    if key == known:
        return text
    text = "[" + ", ".join(map(encode_basestring_ascii, key)) + "]"
    _LAST[0] = (key, text)  # one assignment: a thread sees the old pair or the new one
    return text


_LAST: list[tuple[tuple[str, ...], str]] = [((), "[]")]
"""The SKUs `sku_array` last made an array of, and that array."""


def record_payloads(conn: sqlite3.Connection, records: Sequence[tuple[str, str, str, str]]) -> None:
    """Records given as (partner, kind, at, the SKUs' JSON array)."""
    if records:
        conn.executemany(
            "INSERT INTO partner_product_changes (partner_id, kind, at, skus) VALUES (?, ?, ?, ?)", records
        )


class SqliteChangeFeed:
    """The change records of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def after(self, cursor: str | None, *, limit: int = 100, partner_id: str | None = None) -> list[Change]:
        """Committed changes after `cursor`, in commit order."""
        record, position = _position(cursor)
        # Each record holds one change at least, and the cursor's own record may have none left
        # after it, so `limit` + 1 records fill a page: a short page is always the feed's end.
        records = limit + 1
        if partner_id is None:
            rows = self._conn.execute(f"{_SELECT} WHERE id >= ? ORDER BY id LIMIT ?", (record, records))
        else:
            rows = self._conn.execute(
                f"{_SELECT} WHERE partner_id = ? AND id >= ? ORDER BY id LIMIT ?",
                (partner_id, record, records),
            )
        out: list[Change] = []
        for number, partner, kind, at, skus in rows:
            first = position + 1 if number == record else 0
            moment = from_timestamp(at)
            for index, sku in enumerate(json.loads(skus)[first:], start=first):
                out.append(Change(f"{number}.{index}", partner, sku, ChangeKind(kind), moment))
                if len(out) == limit:
                    return out
        return out

    def end(self) -> str | None:
        """The newest change's cursor: the last SKU of the newest record."""
        row = self._conn.execute(
            "SELECT id, json_array_length(skus) FROM partner_product_changes ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else f"{row[0]}.{row[1] - 1}"

    def purge(self, before: datetime) -> int:
        """Delete the records older than `before` (AUTOINCREMENT never hands their ids out again);
        how many changes they held."""
        purged = self._conn.execute(
            "SELECT coalesce(sum(json_array_length(skus)), 0) FROM partner_product_changes WHERE at < ?",
            (timestamp(before),),
        ).fetchone()[0]
        self._conn.execute("DELETE FROM partner_product_changes WHERE at < ?", (timestamp(before),))
        return int(purged)


def _position(cursor: str | None) -> tuple[int, int]:
    """A cursor's record id and position; (0, -1) before the first change."""
    if cursor is None:
        return 0, -1
    record, dot, position = cursor.partition(".")
    # Bounded digits: never an OverflowError in SQLite's 64-bit integers, whatever a client sends.
    if not (
        dot
        and record.isascii()
        and record.isdigit()
        and position.isascii()
        and position.isdigit()
        and len(record) <= 18
        and len(position) <= 9
    ):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this store gave")
    return int(record), int(position)
