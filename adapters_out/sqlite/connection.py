"""Opening SQLite connections the way this library needs them.

- WAL journal: readers never block the writer, and the writer never blocks readers.
- synchronous=FULL: every commit is fsynced, so it survives a power loss too (a
  job answered with 202 must). It costs one fsync per transaction, and
  transactions are per feed, not per item; NORMAL would only risk the last
  commits on power loss, and nothing here is hot enough to take that risk.
- busy_timeout: a writer waits for the lock instead of failing at once; the unit
  of work adds a bounded retry on top (see store.py).
- temp_store=FILE: the per-feed SKU register lives in a temp table that spills
  to disk, so a feed of millions of items stays in bounded memory.
- cache_size of 4 MB a connection: in WAL mode a connection drops its whole page cache
  when another connection has committed since its last transaction, so a large cache
  serves mostly the writer; and a bulk write spills its dirty pages to the WAL at any
  size, so a larger cache costs a large ingest its memory and buys it no speed (ADR 0039).
- Autocommit mode at the driver level (`isolation_level=None`): transactions
  are opened explicitly, BEGIN IMMEDIATE for writers, so a transaction never
  has to upgrade from read to write (which is where SQLITE_BUSY escapes
  busy_timeout).
- The SQL function `partner_ingest_audit_link`: the audit chain's hash (ADR 0028)
  of a row's stored values, with which migration 0007 chains the rows written before it.
- None is bound through an adapter registered for it (`bind_none_directly`): without one,
  the sqlite3 module looks for `__adapt__` on its protocol type for every None it binds,
  and that lookup raises and clears an AttributeError (its message formatted each time).
  A product row binds several Nones (the optional fields a partner leaves out), and the
  batch upsert took a fifth less CPU with the adapter (ADR 0039). The adapter answers None,
  which is bound as NULL exactly as before; the registry is the sqlite3 module's, so the
  whole process binds None this way, and an adapter someone registered first is kept.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

__all__ = ["bind_none_directly", "connect", "from_timestamp", "second_text", "stored_link", "timestamp"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_PAGE_CACHE_KIB = 4000
"""Page cache per connection, in KiB (see above)."""


_NONE_KEY = (type(None), sqlite3.PrepareProtocol)
_EMPTY: dict[None, None] = {}
"""Its `get` is the adapter: None for None, in C (the sqlite3 module binds an adapter's None as NULL)."""


@functools.cache
def bind_none_directly() -> None:
    """Register the None adapter (see above), unless one is registered already; once a process."""
    if _NONE_KEY not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _EMPTY.get)


def connect(path: str | Path, *, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A connection with the pragmas above; `path` may be ":memory:" for throwaway stores."""
    bind_none_directly()
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA temp_store = FILE")
    conn.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
    conn.create_function("partner_ingest_audit_link", 8, stored_link, deterministic=True)
    return conn


def timestamp(moment: datetime) -> str:
    """Fixed-width UTC text (`_FORMAT`), so that text order is time order."""
    # isoformat, not strftime(_FORMAT): the same text at a fraction of the cost, and every
    # request writes several; a moment in UTC already (the clock's) is not converted again.
    if moment.tzinfo is UTC:
        # The text up to the second is made once a second, not once a moment: formatting the
        # date was most of the cost (the ledger entry and each audit row write one or two).
        # The second is found from the POSIX time, which reads the fields in C; below 2**33
        # seconds (year 2242) its float is close enough that its floor is the moment's second.
        seconds = moment.timestamp()
        if -_EXACT_SECONDS < seconds < _EXACT_SECONDS:
            return f"{second_text(math.floor(seconds))}.{moment.microsecond:06d}Z"
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_EXACT_SECONDS: Final = 2**33
"""POSIX times whose float floors to their second: the float's spacing is below a microsecond."""


def second_text(second: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS`, POSIX second `second` in UTC: the part of every stored time up to
    its second (`timestamp`, and the product table's `batch_time`).

    Made once a second, not once a stored time: formatting the date was most of a stamp's
    cost, and the writer stores several a feed."""
    global _second  # a cache of one entry, replaced whole (read by any thread)
    known, text = _second
    if known != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return text


_second: tuple[int, str] = (0, "1970-01-01T00:00:00")
"""The second `second_text` last named, and its text (replaced whole, so a thread never reads
one second's number with another's text)."""


def from_timestamp(text: str) -> datetime:
    """Inverse of `timestamp`."""
    # fromisoformat reads `_FORMAT` (Z included) in C; strptime's pattern matching cost a
    # request's reads of its key, partner and ledger entry more than the reads themselves.
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stored_link(
    previous: str,
    at: str,
    action: str,
    outcome: str,
    actor: str,
    partner_id: str | None,
    client: str | None,
    details: str,
) -> str:
    """The audit chain hash of a row with these stored values after the row whose hash is `previous`."""
    # Imported when SQL first calls it (a migration chaining old rows), not by every connection:
    # the chain's hash is OpenSSL's, which a command that never writes audit rows does not load.
    from partner_ingest.domain.model.audit_chain import content_of, link_hash

    content = content_of(
        at, action, outcome, actor, partner_id, client, details
    )  # `at` is stored as time_text
    return link_hash(previous, content)
