"""One writer thread for the feeds answered while their sender waits: queued calls run one after
another in one transaction, a savepoint each, and are answered after its one commit (ADR 0043).

With synchronous=FULL every COMMIT is an fsync, and SQLite has one writer at a time: feeds
that each took the lock and synced on their own went no faster from 32 connections than
from one (ADR 0039). Letting each request's thread take its turn on a shared connection
cost a wake-up for its turn and another once its batch was durable, each one winning the
GIL back. Here no request thread writes at all. The writer thread takes every call queued
so far (up to `max_batch`), and

- opens one transaction (BEGIN IMMEDIATE, as any writer);
- runs each call in turn; every unit of work a call opens (`unit_of_work()`, the
  UnitOfWorkFactory the call's use case was built with) is a SAVEPOINT of that transaction:
  committing it releases the savepoint (its writes join the batch) and returns at once,
  rolling it back undoes its writes alone, so one failing call never fails its neighbours;
- commits once (one fsync for the batch), then tells each call's `done` its result. A call
  is answered only once the writes it kept are durable; if the COMMIT fails, every call that
  kept writes is told `BatchNotDurable` (or `StoreFullError`), never its result.

If SQLite rolls the whole transaction back in the middle of a batch (a full disk, an I/O
error), the calls that had kept writes in it are told so, and the rest of the batch goes on
in a fresh transaction. A lone call commits at once: the writer never waits for a timer,
so a batch is exactly the calls that queued while the previous batch ran. Readers keep
their own connections (WAL: they never block the writer) and see a batch once committed;
writers of other processes (a worker, the scheduler) take SQLite's lock between batches.

Only the writer thread may open its units of work (a RuntimeError elsewhere): the use case
runs inside `submit`'s call, never beside it. Read-only units of work are the store's own.
`close()` stops taking calls, lets the writer finish what was queued, and closes its connection.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Final, Self, TypeVar

import attrs

from partner_ingest.adapters_out.store_errors import StoreBusyError

from .connection import connect
from .store import SqliteStore, SqliteUnitOfWork, full_error, is_full

__all__ = ["BatchNotDurable", "Done", "SqliteWriter", "WriterUnitOfWork"]

T = TypeVar("T")
Done = Callable[[object, BaseException | None], None]
"""Told a call's result (and None), or None and its error, once it is settled."""

THREAD_NAME: Final = "partner-ingest-writer"
log: Final = logging.getLogger(__name__)


@attrs.define
class _Call:
    work: Callable[[], object]
    done: Done
    kept: bool = False
    """The call committed a unit of work: its answer waits for the batch's commit."""
    value: object = None
    error: BaseException | None = None


_STOP: Final = object()


class BatchNotDurable(StoreBusyError):
    """The shared transaction of a batch could not be committed: nothing of it was kept, and
    the request may be sent again (answered 503 `store_busy`, like a database that stayed locked)."""


class SqliteWriter:
    """The writer thread (see the module); started on the first `submit`, `close()` at shutdown."""

    def __init__(self, store: SqliteStore, *, max_batch: int = 64) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._current: _Call | None = None
        self._open = False
        """A unit of work of the current call is open (its savepoint is)."""
        self.batches = 0
        """Batches committed so far (tests read it)."""

    def submit(self, work: Callable[[], object], done: Done) -> None:
        """Run `work()` in the writer thread; `done(result, None)` or `done(None, error)` is called
        there once the result may be answered (its writes, if any, durable)."""
        with self._starting:  # never queued behind close()'s stop, where nobody would answer it
            if not self._closed:
                if self._thread is None:
                    self._start()
                self._queue.put(_Call(work, done))
                return
        done(None, BatchNotDurable("the service is shutting down; nothing was stored"))

    def unit_of_work(self, *, read_only: bool = False) -> SqliteUnitOfWork:
        """A savepoint of the writer's transaction, for the call running now; readers get the
        store's own unit of work (their thread's connection)."""
        if read_only:
            return self._store.unit_of_work(read_only=True)
        if threading.current_thread() is not self._thread or self._conn is None:
            raise RuntimeError("the writer's units of work open only inside a call it runs (submit)")
        return WriterUnitOfWork(self, self._conn)

    def close(self) -> None:
        """Take no more calls; finish the queued ones; close the connection."""
        with self._starting:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _start(self) -> None:
        """Open the connection and start the thread (`_starting` held)."""
        self._conn = connect(self._store.path, busy_timeout=self._store.busy_timeout)
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            calls: list[_Call] = []
            item: _Call | object = first
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, _Call)
                    calls.append(item)
                if stopping or len(calls) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if calls:
                self._batch(calls)

    def _batch(self, calls: list[_Call]) -> None:
        conn = self._conn
        assert conn is not None
        pending: list[_Call] = []
        """Calls whose kept writes are in the open transaction."""
        for call in calls:
            self._current = call
            try:
                call.value = call.work()
            except BaseException as error:  # told to the call; the writer goes on
                call.error = error
            finally:
                self._current, self._open = None, False
            if call.kept:
                pending.append(call)
            if pending and not conn.in_transaction:
                # SQLite rolled the whole transaction back (a full disk, an I/O error).
                self._lose(pending, None)
                pending = []
        if conn.in_transaction:
            try:
                conn.execute("COMMIT" if pending else "ROLLBACK")
            except sqlite3.Error as failure:
                self._lose(pending, failure)
                pending = []
                # The writer outlives a failed batch: the next one begins afresh.
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            else:
                if pending:
                    self.batches += 1
        for call in calls:
            try:
                call.done(call.value, call.error)
            except Exception:  # one caller's answer must not keep the others from theirs
                log.exception("a writer call's answer failed")

    def _lose(self, calls: list[_Call], failure: sqlite3.Error | None) -> None:
        """The writes these calls kept were not made durable: each is told so, not its result."""
        for call in calls:
            if call.error is not None:
                continue
            call.value = None
            if failure is not None and is_full(failure):
                call.error = full_error(str(self._store.path), failure)
            elif failure is not None:
                call.error = BatchNotDurable(f"the batch could not be committed: {failure}")
            else:
                call.error = BatchNotDurable("the database rolled the transaction back; nothing was stored")

    # The savepoint of the current call's unit of work (WriterUnitOfWork).
    def _enter(self, conn: sqlite3.Connection) -> None:
        if self._current is None or self._open:
            raise RuntimeError("this thread already has a unit of work open on its connection")
        if not conn.in_transaction:
            self._store.begin(conn, read_only=False)
        conn.execute("SAVEPOINT unit_of_work")
        self._open = True

    def _leave(self, conn: sqlite3.Connection, *, keep: bool) -> None:
        if not self._open:
            return
        self._open = False
        if not conn.in_transaction:
            if keep:
                raise BatchNotDurable("the database rolled the transaction back; nothing was stored")
            return
        if keep:
            conn.execute("RELEASE unit_of_work")
            assert self._current is not None
            self._current.kept = True
        else:
            conn.execute("ROLLBACK TO unit_of_work")
            conn.execute("RELEASE unit_of_work")


class WriterUnitOfWork(SqliteUnitOfWork):
    """A unit of work of a call the writer runs: a savepoint of the batch's transaction."""

    def __init__(self, writer: SqliteWriter, conn: sqlite3.Connection) -> None:
        super().__init__(writer._store, connection=conn)
        self._writer = writer

    def __enter__(self) -> Self:
        self._writer._enter(self.conn)
        return self

    # __exit__ is the store's own: rollback (this unit's writes alone) and a full disk raised
    # as StoreFullError.

    def commit(self) -> None:
        """Keep this unit's writes in the batch; its call is answered once the batch is committed."""
        self._writer._leave(self.conn, keep=True)

    def rollback(self) -> None:
        """Undo this unit's writes alone; its neighbours' stay."""
        self._writer._leave(self.conn, keep=False)
