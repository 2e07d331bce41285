"""The errors the SQL stores (SQLite, PostgreSQL) raise, shared so that callers handle them once.

Each carries a machine `code`; the HTTP error mapping answers store_busy and
schema_too_new with 503, and the CLI prints any of them as one line. A refused
write becomes the domain's ConflictError through `stored_conflict`, in the same
words from either database.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

from partner_ingest.domain.model.errors import ConflictError, IngestError, UnavailableError

__all__ = ["SchemaTooNewError", "StoreBusyError", "StoreUnreachableError", "stored_conflict"]

log = logging.getLogger(__name__)

Refusal = Literal["unique", "reference", "rule"]
_REFUSALS: Final[dict[Refusal, str]] = {
    "unique": "one like it is stored already",
    "reference": "it refers to a record that is not stored",
    "rule": "the store refused it",
}


def stored_conflict(what: str, refusal: Refusal, detail: str) -> ConflictError:
    """The ConflictError for a write the database refused, and a log line with its reason.

    The caller (a partner, over HTTP) reads what conflicted in the domain's words; the
    database's own (table, column and constraint names) are for the operator's log.
    """
    log.info("%s: the database refused the write: %s", what, detail)
    return ConflictError(f"{what}: {_REFUSALS[refusal]}")


class SchemaTooNewError(IngestError):
    """The database was migrated by a newer release than this one."""

    code = "schema_too_new"


class StoreBusyError(UnavailableError):
    """The store could not serve in time: the database stayed locked, or no connection was free."""

    code = "store_busy"


class StoreUnreachableError(UnavailableError):
    """The database server could not be reached (or refused the connection) at start-up."""

    code = "store_unreachable"
