"""A migrated SQLite database file, copied rather than migrated for each test.

Migrating a new file runs a dozen transactions of DDL (about 0.1 s, more on a busy
machine), which was most of what a test on its own SQLite store or server paid
before its first assertion. `migrated_database(path)` writes the bytes of one file
this process migrated once, with the store's own migrations, to `path`: the store
that opens it finds every migration applied, exactly as on a file it migrated
itself. The migrations themselves are tested on files of their own
(tests/integration/sql/test_migrations.py, tests/integration/sqlite/test_migrations.py).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from partner_ingest.adapters_out.sqlite.store import SqliteStore

__all__ = ["migrated_database"]


@functools.cache
def _migrated_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "migrated.db"
        SqliteStore(path).close()
        # Closing the last connection checkpoints the write-ahead log into the file.
        assert not path.with_name("migrated.db-wal").exists(), "the migrated file still has a WAL"
        return path.read_bytes()


def migrated_database(path: Path) -> Path:
    """`path`, a new file, as a freshly migrated database; returns `path`."""
    with path.open("xb") as file:
        file.write(_migrated_bytes())
    return path
