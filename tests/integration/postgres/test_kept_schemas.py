"""A kept schema is handed to the next test only while its definition is what the migrations made
(tests/support/postgres.py): every kind of change a test could make to it changes the digest."""

from __future__ import annotations

import psycopg
from psycopg import sql
from support import postgres
from support.postgres import postgres_store, postgres_url

# Each statement changes the schema in a way the digest must see; each is applied on top of
# the ones before it, so every digest along the way must be new.
ROWS = "INSERT INTO {schema}.partner (id, name, created_at) VALUES ('acme', 'Acme', now())"
CHANGES = [
    "ALTER TABLE {schema}.partner ADD COLUMN extra text DEFAULT 'x'",
    "ALTER TABLE {schema}.partner ALTER COLUMN extra SET DEFAULT 'y'",
    "ALTER TABLE {schema}.partner ALTER COLUMN extra SET NOT NULL",
    "ALTER TABLE {schema}.partner ALTER COLUMN extra TYPE varchar(10)",
    "CREATE INDEX partner_extra ON {schema}.partner (extra)",
    "ALTER TABLE {schema}.partner ADD CONSTRAINT partner_extra_set CHECK (extra <> '')",
    "ALTER TABLE {schema}.partner_ingest_audit DISABLE TRIGGER partner_ingest_audit_no_truncate",
    "DROP TRIGGER partner_ingest_audit_no_truncate ON {schema}.partner_ingest_audit",
    "CREATE FUNCTION {schema}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
    "CREATE OR REPLACE FUNCTION {schema}.answer() RETURNS int LANGUAGE sql AS 'SELECT 43'",
    "CREATE FUNCTION {schema}.answer(x int) RETURNS int LANGUAGE sql AS 'SELECT x'",
    "REVOKE ALL ON FUNCTION {schema}.answer() FROM PUBLIC",
    "CREATE DOMAIN {schema}.positive AS int",
    "ALTER DOMAIN {schema}.positive ADD CONSTRAINT positive_above_zero CHECK (VALUE > 0)",
    "CREATE TABLE {schema}.extra_table (id int)",
    "CREATE SEQUENCE {schema}.extra_sequence",
    "CREATE VIEW {schema}.extra_view AS SELECT 1 AS one",
    "GRANT SELECT ON {schema}.partner TO PUBLIC",
    "ALTER TABLE {schema}.partner ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY partner_all ON {schema}.partner USING (true)",
    "GRANT USAGE ON SCHEMA {schema} TO PUBLIC",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO PUBLIC",
    "INSERT INTO {schema}.schema_migrations (version, name) VALUES (9999, 'newer')",
    "ALTER TABLE {schema}.extra_table SET SCHEMA public",
]


def test_every_change_to_a_kept_schema_changes_its_digest_and_rows_do_not() -> None:
    with postgres_store() as store, psycopg.connect(postgres_url(), autocommit=True) as conn:
        schema = store.schema
        first = postgres._definition(conn, schema)
        assert first == postgres._definitions[schema]  # the digest is the same whenever it is taken
        conn.execute(sql.SQL(ROWS).format(schema=sql.Identifier(schema)))
        assert postgres._definition(conn, schema) == first, "rows are emptied, not part of the definition"
        seen = {first}
        moved = False
        try:
            for change in CHANGES:
                conn.execute(sql.SQL(change).format(schema=sql.Identifier(schema)))
                moved = moved or "SET SCHEMA public" in change
                digest = postgres._definition(conn, schema)
                assert digest not in seen, change
                seen.add(digest)
        finally:
            if moved:
                conn.execute("DROP TABLE IF EXISTS public.extra_table")


def test_a_pristine_schema_is_emptied_and_kept_and_a_changed_one_is_not() -> None:
    url = postgres_url()
    with postgres_store() as store:
        schema = store.schema
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.partner (id, name, created_at) VALUES ('acme', 'Acme', now())"
                ).format(sql.Identifier(schema))
            )
        assert postgres._empty_if_pristine(url, schema)
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.partner").format(sql.Identifier(schema))
            ).fetchone()
            assert rows == (0,)
            conn.execute(
                sql.SQL("ALTER TABLE {}.partner ADD COLUMN extra text").format(sql.Identifier(schema))
            )
        assert not postgres._empty_if_pristine(url, schema)
    assert schema not in postgres._spare
