"""What the SQLite and PostgreSQL stores spell differently, behind one interface.

Shared SQL is written once with `?` placeholders; `Dialect.sql` turns it into the
engine's spelling (once per statement text: the result is cached). A value crosses into
the database through `time`/`opt_time` and `text`, and back through `from_time`/`opt_from_time`;
booleans need no hook (both drivers take a Python bool, and `bool()` reads SQLite's 0/1),
nor does JSON (text written into a jsonb column is cast by PostgreSQL; `CAST(c AS TEXT)`
reads it back as text on both engines).
This module names no driver: the engines' dialects live in their own packages
(ADR 0040).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Cursor", "Dialect", "SqlConnection"]


class Cursor(Protocol):
    """The part of a DB-API cursor the shared repositories use."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...  # noqa: ANN401 - a driver's row (a tuple)
    def fetchall(self) -> Sequence[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    """The part of a connection the shared repositories use: sqlite3's and psycopg's alike."""

    def execute(self, sql: str, params: Sequence[Any], /) -> Cursor: ...


class Dialect(Protocol):
    """One engine's spelling of what the shared SQL leaves open."""

    @property
    def insertion_order(self) -> str:
        """The column that orders rows by insertion (a tie-break between equal times)."""
        ...

    @property
    def for_update(self) -> str:
        """The suffix that locks rows read for a later write, or '' where a writer holds the whole database."""
        ...

    @property
    def skip_locked(self) -> str:
        """The suffix of a claim's sub-select that passes over rows another claimer holds, or ''
        where one writer at a time makes the claim safe by itself."""
        ...

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders, in this engine's spelling."""
        ...

    def time(self, moment: datetime) -> Any:  # noqa: ANN401 - the engine's stored form
        """A moment as this engine stores it."""
        ...

    def opt_time(self, moment: datetime | None) -> Any:  # noqa: ANN401 - the engine's stored form
        """`time`, or None."""
        ...

    def from_time(self, value: Any) -> datetime:  # noqa: ANN401 - the engine's stored form
        """The moment a stored value names."""
        ...

    def opt_from_time(self, value: Any) -> datetime | None:  # noqa: ANN401 - the engine's stored form
        """`from_time`, or None."""
        ...

    def chain_time(self, value: Any) -> str:  # noqa: ANN401 - the engine's stored form
        """A stored audit time as the hash chain covers it (`audit_chain.time_text`'s text)."""
        ...

    def text(self, text: str) -> str:
        """Free text (an error quoting a hostile feed) as a text column can hold it."""
        ...

    def many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:  # noqa: ANN401 - the engine's connection
        """Run `sql` (written with `?`) once per row, as the driver batches it best."""
        ...

    def conflicts(self, conn: Any, what: str) -> AbstractContextManager[None]:  # noqa: ANN401 - the engine's connection
        """A block whose violated constraint becomes ConflictError, leaving the transaction usable."""
        ...
