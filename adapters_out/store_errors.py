"""The errors the SQL stores (SQLite, PostgreSQL) raise, shared so that callers handle them once.

Each carries a machine `code`; the HTTP error mapping answers store_busy and
schema_too_new with 503, and the CLI prints any of them as one line.
"""

from __future__ import annotations

from partner_ingest.domain.model.errors import IngestError

__all__ = ["SchemaTooNewError", "StoreBusyError", "StoreUnreachableError"]


class SchemaTooNewError(IngestError):
    """The database was migrated by a newer release than this one."""

    code = "schema_too_new"


class StoreBusyError(IngestError):
    """The store could not serve in time: the database stayed locked, or no connection was free."""

    code = "store_busy"


class StoreUnreachableError(IngestError):
    """The database server could not be reached (or refused the connection) at start-up."""

    code = "store_unreachable"
