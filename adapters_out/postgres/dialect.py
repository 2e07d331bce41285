"""PostgreSQL's spelling of the shared SQL (ADR 0040): `%s`, timestamptz, savepointed conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.audit_chain import time_text

from ._codec import storable_text
from ._errors import conflicts

__all__ = ["POSTGRES", "PostgresDialect"]

_SPELLED_MAX: Final = 1024


class PostgresDialect:
    """`?` becomes `%s` (a literal `%` is doubled); times travel as aware datetimes (sessions run in UTC)."""

    # `seq` is the insertion order where a table has one: the tie-break between equal times.
    insertion_order: Final = "seq"
    # Under READ COMMITTED a row read to be written is locked, so a second writer re-reads it.
    for_update: Final = " FOR UPDATE"
    # Concurrent claimers each take another row; a row claimed meanwhile is re-checked and passed over.
    skip_locked: Final = " FOR UPDATE SKIP LOCKED"

    def __init__(self) -> None:
        self._spelled: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """`text` with psycopg's placeholders, spelled once per statement text."""
        spelled = self._spelled.get(text)
        if spelled is None:
            if (
                len(self._spelled) >= _SPELLED_MAX
            ):  # statements built per call (IN lists) must not grow it forever
                self._spelled.clear()
            spelled = self._spelled[text] = text.replace("%", "%%").replace("?", "%s")
        return spelled

    def time(self, moment: datetime) -> datetime:
        """The datetime itself (timestamptz)."""
        return moment

    def opt_time(self, moment: datetime | None) -> datetime | None:
        """The datetime itself, or None."""
        return moment

    def from_time(self, value: Any) -> datetime:  # noqa: ANN401 - a timestamptz read from the row
        """The datetime psycopg read."""
        return value  # type: ignore[no-any-return]

    def opt_from_time(self, value: Any) -> datetime | None:  # noqa: ANN401 - a timestamptz read from the row
        """The datetime psycopg read, or None."""
        return value  # type: ignore[no-any-return]

    def chain_time(self, value: Any) -> str:  # noqa: ANN401 - a timestamptz read from the row
        """The chain's fixed-width UTC text of a timestamptz."""
        return time_text(value)

    def text(self, text: str) -> str:
        """Text with NUL and lone surrogates replaced (PostgreSQL's text refuses them)."""
        return storable_text(text)

    def many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:  # noqa: ANN401 - a psycopg connection
        """One pipelined executemany on a cursor (a psycopg connection has none of its own)."""
        with conn.cursor() as cursor:
            cursor.executemany(self.sql(sql), rows)

    @contextmanager
    def conflicts(self, conn: Any, what: str) -> Iterator[None]:  # noqa: ANN401 - a psycopg connection
        """The write under a savepoint; a violated constraint becomes ConflictError."""
        with conflicts(conn, what):
            yield


POSTGRES: Final = PostgresDialect()
