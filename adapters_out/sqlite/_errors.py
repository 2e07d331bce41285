"""What kind of refusal a SQLite IntegrityError is (see store_errors.stored_conflict)."""

from __future__ import annotations

import sqlite3

from partner_ingest.adapters_out.store_errors import Refusal

__all__ = ["refusal"]


def refusal(error: sqlite3.IntegrityError) -> Refusal:
    """The refusal's kind, from SQLite's extended error name."""
    name = getattr(error, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return "reference"
    return "rule"
