"""Group commit: the units of work of concurrent small writers share one transaction and one sync.

With synchronous=FULL every COMMIT is an fsync, and SQLite has one writer at a
time: small feeds sent over HTTP by many connections at once each waited for
the write lock (SQLite's busy handler sleeps, up to 100 ms a try) and then for
their own fsync, so 32 connections went no faster than one. Here the writers of
one process take turns on one connection instead (a Python condition: one writer
is woken the moment the turn is free), each inside a SAVEPOINT of a transaction
they share:

- a unit of work that commits releases its savepoint (its writes join the
  shared transaction) and then waits until that transaction is committed: its
  caller is answered only once its writes are durable (ADR 0039);
- one that fails, or leaves without committing, rolls back to its savepoint:
  its neighbours' writes stay, so one bad request never fails the others;
- the writer that ends its turn while nobody is waiting for one (or when the
  batch is full) commits the shared transaction: one fsync for the batch. So
  a batch is exactly the writers that queued while others wrote, or while a
  commit was in flight; a lone writer commits at once, never waits for a
  timer.

Waking is targeted: ending a turn wakes one waiting writer (any of them can take
it), and a batch's commit wakes only that batch's members (an event each batch
has). With one condition for both, every turn woke all 32 threads of a busy
server to find the turn taken again, and those wake-ups, each taking the GIL,
cost more than the writes.

If the COMMIT fails (disk full, I/O error) every unit of work of the batch
raises: none of them was made durable, and none is answered as if it were.
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

from partner_ingest.adapters_out.store_errors import StoreBusyError

from .connection import connect
from .store import SqliteStore, SqliteUnitOfWork, full_error, is_full

__all__ = ["BatchNotDurable", "GroupCommit", "GroupedUnitOfWork"]


class BatchNotDurable(StoreBusyError):
    """The shared transaction of a batch could not be committed: nothing of it was kept, and
    the request may be sent again (answered 503 `store_busy`, like a database that stayed locked)."""


@attrs.define
class _Batch:
    members: int = 0
    """Units of work whose writes are in the shared transaction, waiting for its commit."""
    done: bool = False
    error: str | None = None
    full: sqlite3.Error | None = None
    """The commit's error when it was the disk being full (answered `store_full`, not busy)."""
    durable: threading.Event = attrs.field(factory=threading.Event)
    """Set once the batch is committed or lost (`done`, `error`): wakes its members alone."""


class GroupCommit:
    """Hands out units of work that commit in groups; `close()` at shutdown."""

    def __init__(self, store: SqliteStore, *, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._conn: sqlite3.Connection | None = None
        self._opening = threading.Lock()
        self._turn = threading.Condition()
        self._busy = False
        self._owner: int | None = None
        self._waiting = 0
        self._batch = _Batch()
        self.batches = 0
        """Batches committed so far (tests and metrics read it)."""

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

    def enter(self) -> _Batch:
        """Wait for the turn, then open this unit of work's savepoint; the batch it joins."""
        me = threading.get_ident()
        with self._turn:
            if self._busy and self._owner == me:
                raise RuntimeError("this thread already has a unit of work open on its connection")
            self._waiting += 1
            while self._busy:
                self._turn.wait()
            self._waiting -= 1
            self._busy, self._owner = True, me
            batch = self._batch
        try:
            if not self.conn.in_transaction:
                self._store.begin(self.conn, read_only=False)
            self.conn.execute("SAVEPOINT unit_of_work")
        except BaseException:
            self._end_turn(batch, flush=self._waiting == 0 or batch.members > 0)
            raise
        return batch

    def leave(self, batch: _Batch, *, keep: bool) -> None:
        """End the turn: keep (and wait until the batch is durable) or undo this unit's writes."""
        conn = self.conn
        lost = batch.members > 0 and not conn.in_transaction
        try:
            if conn.in_transaction:
                if keep:
                    conn.execute("RELEASE unit_of_work")
                else:
                    conn.execute("ROLLBACK TO unit_of_work")
                    conn.execute("RELEASE unit_of_work")
            elif keep:
                # SQLite rolled the whole transaction back on an error (a full disk, an I/O error).
                raise BatchNotDurable("the database rolled the transaction back; nothing was stored")
        except BaseException:
            self._end_turn(batch, flush=True, lost=lost)
            raise
        if keep:
            batch.members += 1
        with self._turn:
            flush = lost or self._waiting == 0 or batch.members >= self._max_batch
        self._end_turn(batch, flush=flush, lost=lost)
        if not keep:
            return
        batch.durable.wait()
        if batch.full is not None:
            raise full_error(str(self._store.path), batch.full)
        if batch.error is not None:
            raise BatchNotDurable(batch.error)

    def _end_turn(self, batch: _Batch, *, flush: bool, lost: bool = False) -> None:
        error: str | None = "the database rolled the transaction back" if lost else None
        if flush:
            try:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT" if batch.members else "ROLLBACK")
            except sqlite3.Error as failure:
                error = f"the batch could not be committed: {failure}"
                if is_full(failure):
                    batch.full = failure
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
        with self._turn:
            if flush:
                batch.done, batch.error = True, error
                if batch.members:
                    self.batches += 1
                self._batch = _Batch()
            self._busy, self._owner = False, None
            # Every waiter waits for the same thing, a free turn: one is enough. A writer
            # that takes the turn before it ends its own and wakes the next.
            self._turn.notify()
        if flush:
            batch.durable.set()


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
