"""bootstrap.build on a postgresql:// URL: the PostgreSQL store, and /readyz checking its schema."""

from __future__ import annotations

import io
import queue

import attrs
import psycopg
import pytest
from support.postgres import postgres_database

from partner_ingest.adapters_in.bootstrap import Readiness, build
from partner_ingest.adapters_in.settings import Settings, SettingsError
from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.postgres.connection import schema_from_url
from partner_ingest.adapters_out.postgres.migrate import available_migrations
from partner_ingest.adapters_out.postgres.writer import PostgresWriter
from partner_ingest.domain.model import IngestReport, Partner
from partner_ingest.domain.use_cases import FeedSubmission

SECRET = "k" * 32


def test_a_postgresql_url_selects_the_postgres_store_and_readyz_checks_its_schema() -> None:
    newest = available_migrations()[-1].version
    with postgres_database() as url:
        schema = schema_from_url(url)
        app = build(Settings(database_url=url, key_hash_secret=SECRET, vault_keys=FernetVault.generate_key()))
        try:
            assert app.ready() == Readiness(True, {"database": "reachable", "schema": "current"})
            with app.uow() as uow:
                uow.partners.add(Partner(id="acme", name="Acme", created_at=app.clock.now()))
                uow.commit()
            with psycopg.connect(url) as conn:  # the URL's schema, nowhere else
                assert conn.execute(f'SELECT id FROM "{schema}".partner').fetchall() == [("acme",)]
                conn.execute(f'DELETE FROM "{schema}".schema_migrations WHERE version = %s', (newest,))
            assert app.ready() == Readiness(
                False,
                {
                    "database": "reachable",
                    "schema": f"at migration {newest - 1}, this release needs {newest}",
                },
            )
        finally:
            app.close()


def test_postgresql_settings_need_the_secrets_every_instance_shares() -> None:
    url = "postgresql://ingest@db.internal/catalog"
    with pytest.raises(SettingsError, match="KEY_HASH_SECRET is required with PostgreSQL"):
        Settings.from_env({"PARTNER_INGEST_DATABASE_URL": url})
    with pytest.raises(SettingsError, match="VAULT_KEYS is required with PostgreSQL"):
        Settings.from_env({"PARTNER_INGEST_DATABASE_URL": url, "PARTNER_INGEST_KEY_HASH_SECRET": SECRET})
    with pytest.raises(SettingsError, match="DATABASE_POOL_SIZE must be at least 1"):
        Settings.from_env(
            {
                "PARTNER_INGEST_DATABASE_URL": url,
                "PARTNER_INGEST_KEY_HASH_SECRET": SECRET,
                "PARTNER_INGEST_VAULT_KEYS": "key",
                "PARTNER_INGEST_DATABASE_POOL_SIZE": "0",
            }
        )


def test_feeds_answered_while_their_sender_waits_commit_in_the_writer_on_postgresql_unless_turned_off() -> (
    None
):
    with postgres_database() as url:
        settings = Settings(database_url=url, key_hash_secret=SECRET, vault_keys=FernetVault.generate_key())
        app = build(settings)
        try:
            writer = app.feed_writer
            assert isinstance(writer, PostgresWriter)
            with app.uow() as uow:
                uow.partners.add(Partner(id="acme", name="Acme", created_at=app.clock.now()))
                uow.commit()
            ingest = app.ingest_now
            assert ingest is not None
            body = io.BytesIO(
                b'{"sku": "S-1", "name": "One", "price": 1.00, "currency": "EUR", "quantity": 1}\n'
            )
            told: queue.SimpleQueue[tuple[object, BaseException | None]] = queue.SimpleQueue()
            submission = FeedSubmission(partner_id="acme", body=body, format="jsonl", version=2)
            writer.submit(lambda: ingest(submission), lambda value, error: told.put((value, error)))
            report, error = told.get(timeout=30)
            assert error is None and isinstance(report, IngestReport)
            assert report.applied and report.counts.created == 1 and writer.batches == 1
        finally:
            app.close()
        app = build(attrs.evolve(settings, group_commit=False))
        try:
            assert app.feed_writer is None and app.ingest_now is None  # a transaction per feed
        finally:
            app.close()
