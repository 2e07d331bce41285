"""The audit trail refuses UPDATE and DELETE in the database itself (ADR 0004), in every SQL store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.sql_stores import SqlKit

from partner_ingest.domain.model import AuditAction, AuditEntry, AuditQuery, Outcome


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE partner_ingest_audit SET outcome = 'success'",
        "UPDATE partner_ingest_audit SET details = '{}' WHERE actor = 'anonymous'",
        "DELETE FROM partner_ingest_audit",
        "DELETE FROM partner_ingest_audit WHERE outcome = 'denied'",
    ],
)
def test_audit_rows_cannot_be_changed_or_removed_even_with_raw_sql(kit: SqlKit, statement: str) -> None:
    store = kit.migrated_store()
    try:
        store.audit_log.append(
            AuditEntry(
                datetime(2026, 1, 1, tzinfo=UTC),
                AuditAction.AUTH_FAILED,
                Outcome.DENIED,
                "anonymous",
                details={"n": 1},
            )
        )
        with pytest.raises(kit.append_only_error, match="append-only"):
            kit.execute(statement)
        [entry] = store.audit_log.query(AuditQuery())
        assert (entry.outcome, entry.actor, dict(entry.details)) == (Outcome.DENIED, "anonymous", {"n": 1})
    finally:
        store.close()
