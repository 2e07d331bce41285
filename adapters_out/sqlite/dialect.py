"""SQLite's spelling of the shared SQL (ADR 0040): `?`, timestamps as fixed-width UTC text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from partner_ingest.adapters_out.store_errors import stored_conflict

from ._errors import refusal
from .connection import from_timestamp, timestamp

__all__ = ["SQLITE", "SqliteDialect"]


class SqliteDialect:
    """Statements as written; times as text whose order is time order."""

    insertion_order: Final = "rowid"
    # A writing unit of work holds the database's write lock (BEGIN IMMEDIATE): nothing to lock.
    for_update: Final = ""
    skip_locked: Final = ""

    def sql(self, text: str) -> str:
        """`text` unchanged: the shared SQL is written in SQLite's placeholders."""
        return text

    time: Final = staticmethod(timestamp)
    """Fixed-width UTC text (`timestamp` itself: the writer stores a few times a feed, and a
    method that only passes its argument on was a visible part of each)."""

    def opt_time(self, moment: datetime | None) -> str | None:
        """`time`, or None."""
        return None if moment is None else timestamp(moment)

    def from_time(self, value: Any) -> datetime:  # noqa: ANN401 - text read from the row
        """The moment a timestamp text names."""
        return from_timestamp(value)

    def opt_from_time(self, value: Any) -> datetime | None:  # noqa: ANN401 - text read from the row
        """`from_time`, or None."""
        return None if value is None else from_timestamp(value)

    def chain_time(self, value: Any) -> str:  # noqa: ANN401 - text read from the row
        """The stored text itself: it is the chain's text, so rows are hashed without parsing them."""
        return str(value)

    def text(self, text: str) -> str:
        """SQLite stores any text, NUL and lone surrogates included."""
        return text

    def many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:  # noqa: ANN401 - a sqlite3 connection
        """One executemany: the statement compiled once."""
        conn.executemany(sql, rows)

    @contextmanager
    def conflicts(self, conn: Any, what: str) -> Iterator[None]:  # noqa: ANN401 - no savepoint needed
        """A violated constraint becomes ConflictError; SQLite keeps the transaction usable by itself."""
        try:
            yield
        except sqlite3.IntegrityError as error:
            raise self.conflict(what, error) from None

    def conflict(self, what: str, error: sqlite3.IntegrityError) -> Exception:
        """The ConflictError a violated constraint is, for a write that catches it itself (a
        context manager costs a write the writer thread runs once a feed a visible share)."""
        return stored_conflict(what, refusal(error), str(error))


SQLITE: Final = SqliteDialect()
