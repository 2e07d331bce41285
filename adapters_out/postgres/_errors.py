"""Turning the database's refusals into the domain's errors, without spoiling the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from partner_ingest.domain.model.errors import ConflictError

from .connection import Connection, savepoint

__all__ = ["conflicts"]


@contextmanager
def conflicts(conn: Connection, what: str) -> Iterator[None]:
    """Run a write under a savepoint; a violated constraint becomes ConflictError(`what`).

    PostgreSQL aborts the whole transaction on a failed statement; the savepoint
    undoes only this write, so a caller that catches the ConflictError (as the
    contract allows) keeps a usable unit of work, as with SQLite and memory.
    """
    try:
        with savepoint(conn):
            yield
    except psycopg.errors.IntegrityError as error:
        detail = error.diag.message_primary or type(error).__name__
        raise ConflictError(f"{what}: {detail}") from None
