"""The base of the shared repositories: a connection, its dialect, and statements in its spelling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .dialect import Cursor, Dialect, SqlConnection

__all__ = ["SqlRepository", "select_list"]


def select_list(fields: Sequence[str], *, json: Sequence[str] = ()) -> str:
    """A SELECT list of `fields` in order; a JSON column is read back as its text on both engines."""
    return ", ".join(f"CAST({f} AS TEXT)" if f in json else f for f in fields)


class SqlRepository:
    """One connection's rows of one kind, in the current transaction."""

    __slots__ = ("_conn", "_d")

    def __init__(self, conn: SqlConnection, dialect: Dialect) -> None:
        self._conn = conn
        self._d = dialect

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run `sql` (written with `?`) in the engine's spelling."""
        return self._conn.execute(self._d.sql(sql), params)
