"""Reaching the test PostgreSQL server: skipped, visibly, where none is configured.

Every store or database URL handed out here lives in a schema of its own
(`partner_ingest_test_<random>`), so test runs sharing one server never see
each other's rows.

`postgres_store()` hands out migrated schemas, and migrating one costs more
than most tests that use it (a few hundred DDL statements, a commit each
migration); so a schema a test is done with is emptied and kept for the next
test of the same process when, and only when, it is still exactly what the
migrations made: the same tables, columns, constraints, indexes, triggers
(enabled alike), functions, types, privileges and migration rows. Emptied means every
table but `schema_migrations` without a row and every sequence back at its
start, which is what a freshly migrated schema holds. Anything else (a test
that dropped a trigger, revoked a grant, recorded a newer migration) is
dropped as before. Whatever is kept is dropped when the process exits.
The check and the emptying run on one connection the process keeps open: a new
session each time would cost a backend's start and cold catalog caches, which the
digest's catalog functions pay again for every table (more than the check itself).
For the same reason the store itself is kept with its schema, its pool and sessions
open, when every session is back in the pool as the store made it (the same
settings and role, no channel listened on, no session advisory lock, no other
temporary table, no open cursor); a test that closed the store, kept a connection
or changed a session leaves the next test a new store on the schema.
`postgres_database()` is untouched by this: its schema does not exist until
the code under test creates it.
"""

from __future__ import annotations

import atexit
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    import psycopg

    from partner_ingest.adapters_out.postgres.store import PostgresStore

T = TypeVar("T")

ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"


SESSION = "-csynchronous_commit=off"
"""Every test session's commits return before their WAL reaches the disk: a commit is as visible
and as atomic as with `on` (only a crash of the server itself could lose the last ones, and no
test crashes it), and waiting on the shared disk's flush for each commit was most of the
PostgreSQL tests' time, as it was the SQLite tests' before their files moved to RAM."""


def postgres_url() -> str:
    """The configured server URL (with the tests' SESSION options), or a skip with the reason."""
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {ENV} (CI sets it to postgresql://postgres@127.0.0.1:5432/test)")
    return with_options(url, SESSION)


def with_options(url: str, options: str) -> str:
    """`url` with `options` added to its libpq `options` (a second `options=` would replace the first)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = [value for key, value in query if key == "options"]
    kept = [(key, value) for key, value in query if key != "options"]
    merged = " ".join([*given, options])
    return urlunsplit(parts._replace(query=urlencode([*kept, ("options", merged)], quote_via=quote)))


def url_with_schema(url: str, schema: str) -> str:
    """`url` with `options=-csearch_path=<schema>`: how a deployment names the store's schema."""
    return with_options(url, f"-csearch_path={schema}")


def new_schema_name() -> str:
    """A schema name no other test run uses."""
    from partner_ingest.adapters_out.postgres.store import TEST_SCHEMA_PREFIX

    return TEST_SCHEMA_PREFIX + secrets.token_hex(6)


def drop_schema(url: str, schema: str) -> None:
    """Remove a test schema and everything in it (nothing when it was never created)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# The catalogs every migrated schema adds rows to; dropping the schema leaves them dead.
_CHURNED_CATALOGS = (
    "pg_attribute",
    "pg_class",
    "pg_depend",
    "pg_type",
    "pg_constraint",
    "pg_index",
    "pg_attrdef",
    "pg_trigger",
    "pg_proc",
    "pg_sequence",
    "pg_namespace",
)
_DEAD_ROWS_WORTH_A_VACUUM = 20_000
"""Fewer dead rows than a run of the PostgreSQL tests leaves: a fresh server is left alone."""


def vacuum_churned_catalogs() -> None:
    """VACUUM the catalogs the suite's schemas churn, when earlier runs left them full of dead rows.

    The test server runs without autovacuum, so every schema a run creates and drops stays in
    the catalogs as dead rows, and every later run (CI's included) reads past them wherever the
    server scans a catalog. A VACUUM of them costs little; a role that may not vacuum a catalog
    only gets a warning, and a server that cannot be reached is left to the tests to report.
    """
    url = os.environ.get(ENV)
    if not url:
        return
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_sys_tables"
                " WHERE schemaname = 'pg_catalog' AND relname = ANY(%s)",
                (list(_CHURNED_CATALOGS),),
            ).fetchone()
            if row is not None and int(row[0]) >= _DEAD_ROWS_WORTH_A_VACUUM:
                conn.execute("VACUUM " + ", ".join(f"pg_catalog.{name}" for name in _CHURNED_CATALOGS))
    except psycopg.Error:
        return


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database URL naming a fresh schema (created by the first store that opens it), dropped afterwards."""
    url = postgres_url()
    schema = new_schema_name()
    try:
        yield url_with_schema(url, schema)
    finally:
        drop_schema(url, schema)


# Everything about a schema's definition a test could change, as one digest; rows are not in it
# (they are emptied) except the migration records, which say what version the schema claims.
# The schema's objects are found through the catalogs' indexes, from the dependency every table,
# sequence, view, function and type keeps on its schema (an index, constraint, trigger, column or
# policy through its table's oid): `relnamespace = ...` and the like have no index, and scanning
# whole catalogs costs what the server's catalogs weigh, dead rows included (every schema a run
# creates and drops leaves its rows there until a VACUUM), not what this schema holds.
_DEFINITION = """
WITH owned AS (
  SELECT d.classid, d.objid FROM pg_depend d
   WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(oid)s AND d.objsubid = 0),
rel AS (
  SELECT c.oid, c.relname FROM owned o JOIN pg_class c ON c.oid = o.objid
   WHERE o.classid = 'pg_class'::regclass AND c.relnamespace = %(oid)s),
idx AS (
  SELECT i.indexrelid, i.indrelid FROM rel JOIN pg_index i ON i.indrelid = rel.oid)
SELECT md5(concat_ws(' | ',
  (SELECT string_agg(format('%%s:%%s:%%s:%%s', c.relname, c.relkind, c.relrowsecurity, c.relacl), ','
                     ORDER BY c.relname)
     FROM pg_class c WHERE c.oid IN (SELECT oid FROM rel UNION ALL SELECT indexrelid FROM idx)),
  (SELECT string_agg(format('%%s.%%s:%%s:%%s:%%s:%%s', rel.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                            a.attnotnull, a.attidentity, pg_get_expr(d.adbin, d.adrelid)), ','
                     ORDER BY rel.relname, a.attnum)
     FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(def, ',' ORDER BY def)
     FROM (SELECT format('%%s:%%s', k.conname, pg_get_constraintdef(k.oid)) AS def
             FROM rel JOIN pg_constraint k ON k.conrelid = rel.oid
           UNION ALL
           SELECT format('%%s:%%s', k.conname, pg_get_constraintdef(k.oid))
             FROM owned o JOIN pg_constraint k ON k.contypid = o.objid
            WHERE o.classid = 'pg_type'::regclass) AS con),
  (SELECT string_agg(def, ',' ORDER BY def) FROM (SELECT pg_get_indexdef(indexrelid) AS def FROM idx) AS ind),
  (SELECT string_agg(def, ',' ORDER BY def)
     FROM (SELECT format('%%s:%%s', t.tgenabled, pg_get_triggerdef(t.oid)) AS def
             FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid) AS trg),
  (SELECT string_agg(def, ',' ORDER BY def)
     FROM (SELECT format('%%s(%%s):%%s:%%s', p.proname, pg_get_function_identity_arguments(p.oid),
                         md5(p.prosrc), p.proacl) AS def
             FROM owned o JOIN pg_proc p ON p.oid = o.objid WHERE o.classid = 'pg_proc'::regclass) AS fun),
  (SELECT string_agg(format('%%s:%%s:%%s', ty.typname, ty.typtype, ty.typacl), ',' ORDER BY ty.typname)
     FROM owned o JOIN pg_type ty ON ty.oid = o.objid WHERE o.classid = 'pg_type'::regclass),
  (SELECT string_agg(format('%%s:%%s', rel.relname, p.polname), ',' ORDER BY rel.relname, p.polname)
     FROM rel JOIN pg_policy p ON p.polrelid = rel.oid),
  (SELECT string_agg(d.defaclacl::text, ',' ORDER BY d.defaclacl::text)
     FROM pg_default_acl d WHERE d.defaclnamespace = %(oid)s),
  n.nspowner::regrole::text, n.nspacl::text,
  (SELECT string_agg(format('%%s:%%s', version, name), ',' ORDER BY version, name) FROM {schema}.schema_migrations)
)) FROM pg_namespace n WHERE n.oid = %(oid)s
"""

_spare: list[str] = []
"""Migrated, emptied schemas of this process, ready for the next `postgres_store()`."""
_definitions: dict[str, str] = {}
"""Each kept schema's definition digest, taken right after its migrations ran."""


_admin: list[psycopg.Connection[tuple[object, ...]]] = []
"""The process's one session for `_definition` and emptying (made on first use), left idle."""


def _admin_session(url: str) -> psycopg.Connection[tuple[object, ...]]:
    import psycopg

    if _admin and not (_admin[0].closed or _admin[0].broken):
        return _admin[0]
    _admin[:] = [psycopg.connect(url)]
    return _admin[0]


def _with_admin(url: str, work: Callable[[psycopg.Connection[tuple[object, ...]]], T]) -> T:
    """`work` on the admin session, committed (idle afterwards, so it holds no lock); once more on a
    new session when the kept one turns out to be gone (a test terminated backends, say)."""
    import psycopg

    for attempt in (1, 2):
        conn = _admin_session(url)
        try:
            result = work(conn)
            conn.commit()
            return result
        except BaseException as error:
            if not conn.broken:
                conn.rollback()
            elif isinstance(error, psycopg.OperationalError) and attempt == 1:
                continue
            raise
    raise AssertionError("unreachable")


def _close_admin() -> None:
    while _admin:
        _admin.pop().close()


def _definition(conn: object, schema: str) -> str:
    from psycopg import Connection, sql

    assert isinstance(conn, Connection)
    found = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if found is None:
        return ""
    query = sql.SQL(_DEFINITION).format(schema=sql.Identifier(schema))
    row = conn.execute(query, {"oid": found[0]}).fetchone()
    return str(row[0]) if row else ""


def _empty_if_pristine(url: str, schema: str) -> bool:
    """Empty `schema` and report True when its definition is still what the migrations made."""
    return _with_admin(url, lambda conn: _empty_on(conn, schema))


def _empty_on(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> bool:
    """Empty `schema` on `conn` (the caller commits) and report True, when it is still pristine."""
    from psycopg import sql

    if _definition(conn, schema) != _definitions.get(schema):
        return False
    # Triggers stay as they are: the replica role only keeps them (the audit table's refusal
    # of TRUNCATE, the foreign keys' checks) from firing for this one transaction.
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute("SET LOCAL lock_timeout = '10s'")
    # The schema's tables and sequences are found through its dependencies, as in the digest.
    tables = conn.execute(
        "SELECT c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid"
        " WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %s::regnamespace"
        " AND d.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'",
        (schema,),
    ).fetchall()
    # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives every table and index
    # new files, which costs more than the migrations this saves.
    for (name,) in tables:
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, str(name))))
    conn.execute(
        "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid"
        " WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %s::regnamespace"
        " AND d.classid = 'pg_class'::regclass",
        (schema,),
    )
    return True


# What a session could keep from one test to the next: its settings and role, channels it
# listens on, session advisory locks, temporary tables and cursors held open past a commit.
_SESSION_SHAPE = """
SELECT concat_ws(' | ', current_user, session_user,
  (SELECT string_agg(format('%s=%s', name, setting), ',' ORDER BY name) FROM pg_settings
    WHERE source NOT IN ('default', 'override', 'configuration file')),
  (SELECT string_agg(channel, ',' ORDER BY channel) FROM pg_listening_channels() AS channel),
  (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'),
  (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
  (SELECT count(*) FROM pg_cursors))
"""

_open_stores: dict[str, PostgresStore] = {}
"""A kept schema's store, left open for the next test when its sessions are as the store made them."""
_shapes: dict[str, str] = {}
"""Each open store's session shape (`_SESSION_SHAPE`) when the store was new."""


def _shape(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(_SESSION_SHAPE).fetchone()
    conn.rollback()
    return str(row[0]) if row else ""


def _new_store(store: PostgresStore) -> PostgresStore:
    with store.connection() as conn:
        _shapes[store.schema] = _shape(conn)
    return store


def _sessions_as_made(store: PostgresStore) -> bool:
    """Whether the next test may have `store` as it is: open, every connection back in its pool
    and idle, and every session as the store made it (a test that closed the store, kept a
    connection, or changed a session leaves the next test a new store, as before)."""
    pool = store._pool
    if pool.closed:
        return False
    stats = pool.get_stats()
    idle = stats.get("pool_available", 0)
    if idle != stats.get("pool_size", -1) or stats.get("requests_waiting", 0):
        return False
    sessions = [pool.getconn(timeout=1) for _ in range(idle)]
    try:
        return all(not conn.broken and _shape(conn) == _shapes.get(store.schema) for conn in sessions)
    finally:
        for conn in sessions:
            pool.putconn(conn)


def _drop_spares(url: str) -> None:
    while _open_stores:
        _open_stores.popitem()[1].close()
    _close_admin()
    while _spare:
        drop_schema(url, _spare.pop())


@contextmanager
def postgres_store() -> Iterator[PostgresStore]:
    """A PostgreSQL store on an empty, migrated schema of its own while the test runs."""
    url = postgres_url()
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    if _spare:
        schema = _spare.pop()
        store = _open_stores.pop(schema, None) or _new_store(PostgresStore(url, schema=schema, pool_size=4))
    else:
        store = _new_store(PostgresStore.for_tests(url))
        _definitions[store.schema] = _with_admin(url, lambda conn: _definition(conn, store.schema))
        if len(_definitions) == 1:
            atexit.register(_drop_spares, url)
    schema = store.schema
    try:
        yield store
    finally:
        as_made = False
        try:
            as_made = _sessions_as_made(store)
        finally:
            if not as_made:
                store.close()
        kept = False
        try:
            kept = _empty_if_pristine(url, schema)
        finally:
            if kept:
                _spare.append(schema)
                if as_made:
                    _open_stores[schema] = store
            else:
                if as_made:
                    store.close()
                _definitions.pop(schema, None)
                drop_schema(url, schema)
