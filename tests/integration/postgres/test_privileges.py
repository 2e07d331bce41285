"""A service role that may use a migrated schema but create nothing in it still starts and works
(deployment.md: a separate role owns the schema and migrates; the service only reads and writes)."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support.postgres import postgres_database, postgres_url

from partner_ingest.adapters_out.postgres.connection import schema_from_url
from partner_ingest.adapters_out.postgres.store import PostgresStore
from partner_ingest.domain.model import AuditAction, AuditEntry, Job, JobStatus, Outcome, Partner, Product

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_role_without_create_privilege_runs_every_repository_on_a_migrated_schema() -> None:
    with postgres_database() as url:
        PostgresStore(url).close()  # migrated by the owner (the test server's superuser)
        schema = sql.Identifier(str(schema_from_url(url)))
        name = f"partner_ingest_test_role_{secrets.token_hex(4)}"
        role = sql.Identifier(name)
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            try:
                admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
                admin.execute(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                        schema, role
                    )
                )
                store = PostgresStore(make_conninfo(url, user=name), pool_size=2)
                try:
                    exercise(store)
                    with pytest.raises(psycopg.errors.InsufficientPrivilege), store.connection() as conn:
                        conn.execute("CREATE TABLE intruder (id int)")
                finally:
                    store.close()
            finally:
                admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
                admin.execute(sql.SQL("DROP ROLE {}").format(role))


def exercise(store: PostgresStore) -> None:
    product = Product(
        partner_id="acme", sku="A", name="Mug", price=Decimal("9.50"), currency="EUR", quantity=3
    )
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=T0))
        assert uow.feed_skus.repeated(["A"]) == []
        assert uow.products.upsert([product.to_row()]) == (1, 0, 0)
        uow.jobs.add(Job("j", "acme", "json", 2, JobStatus.QUEUED, T0, T0, "h", 2), io.BytesIO(b"{}"))
        uow.audit.append(
            AuditEntry(T0, AuditAction.FEED_INGESTED, Outcome.SUCCESS, "acme", partner_id="acme")
        )
        uow.commit()
    with store.unit_of_work() as uow:
        claimed = uow.jobs.claim(T0, timedelta(seconds=30), "t")
        uow.commit()
    assert claimed is not None and claimed.id == "j"
    store.audit_log.append(AuditEntry(T0, AuditAction.AUTH_FAILED, Outcome.DENIED, "anonymous"))
    assert store.schema_version() >= 2
