"""Turning the database's refusals into the domain's errors, without spoiling the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from partner_ingest.adapters_out.store_errors import Refusal, stored_conflict

from .connection import Connection, savepoint

__all__ = ["conflicts"]


@contextmanager
def conflicts(conn: Connection, what: str) -> Iterator[None]:
    """Run a write under a savepoint; a violated constraint becomes ConflictError (`stored_conflict`).

    PostgreSQL aborts the whole transaction on a failed statement; the savepoint
    undoes only this write, so a caller that catches the ConflictError (as the
    contract allows) keeps a usable unit of work, as with SQLite and memory.
    """
    try:
        with savepoint(conn):
            yield
    except psycopg.errors.IntegrityError as error:
        detail = error.diag.message_primary or type(error).__name__
        raise stored_conflict(what, _REFUSALS.get(error.sqlstate or "", "rule"), detail) from None


_REFUSALS: dict[str, Refusal] = {"23505": "unique", "23503": "reference"}
"""SQLSTATEs: unique_violation, foreign_key_violation; any other is a rule."""
