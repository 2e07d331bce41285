"""`partner_ingest_diagnostics` on PostgreSQL: SKUs resolved in one statement (ADR 0033, ADR 0040).

The rest is the shared repository's (`adapters_out/sql/diagnostics.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository

from .connection import Connection
from .dialect import POSTGRES

__all__ = ["PostgresDiagnosticRepository"]


class PostgresDiagnosticRepository(SqlDiagnosticRepository):
    """The shared diagnostics, resolving SKUs as one array."""

    __slots__ = ()

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, POSTGRES)

    def resolve(self, partner_id: str, skus: Sequence[str], by_import: str, at: datetime) -> int:
        """Close the open diagnostics of these SKUs (one statement, the SKUs as an array)."""
        cursor = self._run(
            "UPDATE partner_ingest_diagnostics SET resolved_by = ?, resolved_at = ?"
            " WHERE partner_id = ? AND resolved_by IS NULL AND sku = ANY(?)",
            (by_import, at, partner_id, [self._d.text(s) for s in skus]),
        )
        return cursor.rowcount
