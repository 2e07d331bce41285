"""The errors the SQL stores (SQLite, PostgreSQL) raise, shared so that callers handle them once.

Each is an UnavailableError with a machine `code`; the HTTP error mapping answers
them 503 with a message per code, and the CLI prints any of them as one line. A refused
write becomes the domain's ConflictError through `stored_conflict`, in the same
words from either database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from partner_ingest.domain.model.errors import ConflictError, IdempotencyKeyTaken, UnavailableError

if TYPE_CHECKING:
    import logging

__all__ = [
    "EXISTS",
    "IDEMPOTENCY_TAKEN",
    "BatchNotDurable",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreFullError",
    "StoreUnreachableError",
    "stored_conflict",
]


def _log() -> logging.Logger:
    """This module's logger, with `logging` imported on the first line logged: a command
    that logs nothing does not load it (ADR 0042)."""
    import logging

    return logging.getLogger(__name__)


EXISTS: Final = "exists already"
IDEMPOTENCY_TAKEN: Final = "repeats an Idempotency-Key its partner has used already"
"""How every store, the in-memory one too, words its two conflicts (the contract suite holds them to it)."""

Refusal = Literal["unique", "reference", "rule"]
_REFUSALS: Final[dict[Refusal, str]] = {
    "unique": EXISTS,
    "reference": "refers to a record that is not stored",
    "rule": "was refused by the store",
}


def stored_conflict(subject: str, refusal: Refusal, detail: str) -> ConflictError:
    """The ConflictError for a write of `subject` ("job 'j1'") that the database refused,
    and a log line with the database's reason.

    The caller (a partner, over HTTP) reads what conflicted in the domain's words; the
    database's own (table, column and constraint names) are for the operator's log.
    Both databases name the Idempotency-Key's unique index in `detail`.
    """
    _log().info("%s: the database refused the write: %s", subject, detail)
    if refusal == "unique" and "idempotency" in detail:
        return IdempotencyKeyTaken(f"{subject} {IDEMPOTENCY_TAKEN}")
    return ConflictError(f"{subject} {_REFUSALS[refusal]}")


class SchemaTooNewError(UnavailableError):
    """The database was migrated by a newer release than this one (this instance is not ready;
    a newer one is)."""

    code = "schema_too_new"


class StoreBusyError(UnavailableError):
    """The store could not serve in time: the database stayed locked, or no connection was free."""

    code = "store_busy"


class BatchNotDurable(StoreBusyError):
    """The shared transaction of a batch could not be committed, or the process that held it
    ended first: nothing of it was kept, and the request may be sent again (answered 503
    `store_busy`, like a database that stayed locked)."""


class StoreUnreachableError(UnavailableError):
    """The database server could not be reached at start-up, or the connection to it was lost."""

    code = "store_unreachable"


class StoreFullError(UnavailableError):
    """The database's disk is full: the write was rolled back whole, and succeeds once space returns."""

    code = "store_full"
