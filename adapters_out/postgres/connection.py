"""Reaching PostgreSQL the way this library needs it: a pool of sessions set up alike.

- Every session gets `search_path` set to the store's schema (from the URL's
  `options=-csearch_path=...`, or an explicit `schema`, default `public`), so
  one database can hold several stores (and each test run a schema of its own).
- Every session runs in UTC, so timestamps come back as UTC datetimes.
- Every session creates the temporary tables the ingest path writes through
  (`setup`, once per connection, `ON COMMIT DELETE ROWS`), so a feed pays for
  no DDL and the catalog never churns.
- Connections are checked when taken from the pool (a cheap empty query), so a
  server restart costs a reconnect, not a failed request. Waiting longer than
  `timeout` for a free connection raises psycopg_pool's PoolTimeout (the store
  turns it into StoreBusyError, a 503).
- Transactions are psycopg's implicit ones (autocommit off): the first
  statement of a unit of work begins one, commit or rollback ends it. Nested
  undo points are plain SAVEPOINT statements (`savepoint()`), never
  `Connection.transaction()`, which would commit on its own when it happens to
  be the outermost block.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

__all__ = [
    "Connection",
    "Pool",
    "advisory_key",
    "configure_session",
    "connect",
    "describe_url",
    "make_pool",
    "savepoint",
    "schema_from_url",
]

Connection: TypeAlias = psycopg.Connection[tuple[Any, ...]]
Pool: TypeAlias = ConnectionPool[Connection]

_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*((?:\\.|[^\s\\])+)")
_SESSION = "SELECT set_config('search_path', quote_ident(%s), false), set_config('TimeZone', 'UTC', false)"


def schema_from_url(url: str) -> str | None:
    """The first schema of `options=-csearch_path=...` in a connection URL, if any."""
    options = conninfo_to_dict(url).get("options")
    if not options:
        return None
    match = _SEARCH_PATH.search(str(options))
    if match is None:
        return None
    first = match.group(1).replace("\\", "").split(",")[0].strip()
    return first.strip('"') or None


def describe_url(url: str) -> str:
    """host:port/dbname of a connection URL, for messages: never its password."""
    info = conninfo_to_dict(url)
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def configure_session(conn: Connection, schema: str, setup: Sequence[str] = ()) -> None:
    """Search `schema`, run in UTC, run `setup`; committed, so it outlives any later rollback."""
    conn.execute(_SESSION, (schema,))
    for statement in setup:
        conn.execute(statement)
    conn.commit()


def connect(url: str, schema: str, *, timeout: float) -> Connection:
    """One connection outside the pool, set up like the pool's (migrations run on it at start-up)."""
    conn: Connection = psycopg.connect(url, autocommit=False, connect_timeout=max(1, int(timeout)))
    try:
        configure_session(conn, schema)
    except BaseException:
        conn.close()
        raise
    return conn


def make_pool(
    url: str,
    schema: str,
    *,
    min_size: int,
    max_size: int,
    timeout: float,
    name: str,
    setup: Sequence[str] = (),
) -> Pool:
    """A pool (not yet open) whose every session searches `schema`, runs in UTC and has run `setup`."""

    def configure(conn: Connection) -> None:
        configure_session(conn, schema, setup)

    def reset(conn: Connection) -> None:
        # A read-only unit of work changes these; the next borrower gets the defaults back.
        conn.read_only = None
        conn.isolation_level = None

    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        configure=configure,
        reset=reset,
        check=ConnectionPool.check_connection,
        timeout=timeout,
        kwargs={"autocommit": False},
        name=name,
    )


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """An undo point inside the current transaction: an error inside undoes only the block.

    PostgreSQL aborts the whole transaction on any failed statement; SQLite and
    the memory store do not. A conflict the caller may catch (ConflictError)
    therefore runs under a savepoint, so the unit of work stays usable after it.
    """
    conn.execute("SAVEPOINT partner_ingest")
    try:
        yield
    except BaseException:
        if not conn.broken:
            conn.execute("ROLLBACK TO SAVEPOINT partner_ingest")
            conn.execute("RELEASE SAVEPOINT partner_ingest")
        raise
    conn.execute("RELEASE SAVEPOINT partner_ingest")


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock, named by its parts."""
    digest = hashlib.blake2b("\x1f".join(("partner_ingest", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
