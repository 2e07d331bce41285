"""Group commit on SQLite: the units of work of concurrent small writers share one transaction and one fsync.

With synchronous=FULL every COMMIT is an fsync, and SQLite has one writer at a
time: small feeds sent over HTTP by many connections at once each waited for
the write lock (SQLite's busy handler sleeps, up to 100 ms a try) and then for
their own fsync, so 32 connections went no faster than one. Here the writers of
one process take turns on one connection instead (a Python condition: one writer
is woken the moment the turn is free), each inside a SAVEPOINT of a transaction
they share; the turns, the batches and who commits them are
`adapters_out/sql/group_commit.py`'s, what is SQLite's is here.

If the COMMIT fails (disk full, I/O error), or SQLite rolls the whole transaction
back on an error, every unit of work of the batch raises: none of them was made
durable, and none is answered as if it were (a full disk as `store_full`).
Readers keep their own connections (WAL: they never block the writer); they
see a batch's writes once it is committed, as they would see a single one.
Writers of other processes (a worker, the scheduler) still take SQLite's lock
as before, between batches.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Self

import attrs

from partner_ingest.adapters_out.sql.group_commit import Batch, BatchNotDurable, GroupTurns

from .connection import connect
from .store import SqliteStore, SqliteUnitOfWork, full_error, is_full

__all__ = ["BatchNotDurable", "GroupCommit", "GroupedUnitOfWork"]


@attrs.define
class _Batch(Batch):
    full: sqlite3.Error | None = None
    """The commit's error when it was the disk being full (answered `store_full`, not busy)."""


class GroupCommit(GroupTurns[_Batch]):
    """Hands out units of work that commit in groups; `close()` at shutdown."""

    def __init__(self, store: SqliteStore, *, max_batch: int = 64) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = None
        self._opening = threading.Lock()
        super().__init__(max_batch=max_batch)

    def unit_of_work(self, *, read_only: bool = False) -> SqliteUnitOfWork:
        """A grouped unit of work for writers; readers get the store's own (their thread's connection)."""
        if read_only:
            return self._store.unit_of_work(read_only=True)
        return GroupedUnitOfWork(self)

    @property
    def conn(self) -> sqlite3.Connection:
        """The shared connection, opened on first use (a process that never takes a grouped
        unit of work, such as the CLI, never opens it)."""
        if self._conn is None:
            with self._opening:
                if self._conn is None:
                    self._conn = connect(self._store.path, busy_timeout=self._store.busy_timeout)
        return self._conn

    def close(self) -> None:
        """Close the shared connection (an open batch, if any, rolls back)."""
        if self._conn is not None:
            self._conn.close()

    def _new_batch(self) -> _Batch:
        return _Batch()

    def _in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _open(self, batch: _Batch) -> None:
        if not self.conn.in_transaction:
            self._store.begin(self.conn, read_only=False)
        self.conn.execute("SAVEPOINT unit_of_work")

    def _close(self, batch: _Batch, *, keep: bool) -> None:
        if not keep:
            self.conn.execute("ROLLBACK TO unit_of_work")
        self.conn.execute("RELEASE unit_of_work")

    def _commit(self, batch: _Batch) -> str | None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT" if batch.members else "ROLLBACK")
        except sqlite3.Error as failure:
            if is_full(failure):
                batch.full = failure
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            return f"the batch could not be committed: {failure}"
        return None

    def _failure(self, batch: _Batch) -> BaseException:
        if batch.full is not None:
            return full_error(str(self._store.path), batch.full)
        return super()._failure(batch)


class GroupedUnitOfWork(SqliteUnitOfWork):
    """A unit of work inside a batch: a savepoint of the shared transaction (see the module)."""

    def __init__(self, group: GroupCommit) -> None:
        super().__init__(group._store, connection=group.conn)
        self._group = group
        self._batch: _Batch | None = None

    def __enter__(self) -> Self:
        self._batch = self._group.enter()
        return self

    # __exit__ is the store's own: rollback (this unit's writes alone) and a full disk raised
    # as StoreFullError, whether the write or the batch's commit found the disk full.

    def commit(self) -> None:
        """Keep this unit's writes; return once the batch holding them is committed (durable)."""
        batch, self._batch = self._batch, None
        if batch is not None:
            self._group.leave(batch, keep=True)

    def rollback(self) -> None:
        """Undo this unit's writes alone; its neighbours' stay."""
        batch, self._batch = self._batch, None
        if batch is not None:
            self._group.leave(batch, keep=False)
