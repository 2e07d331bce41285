"""One writer thread for the feeds answered while their sender waits, for either engine: queued
calls run one after another in one transaction, a savepoint each, and are answered after its one
commit (ADR 0043; PostgreSQL's part: ADR 0044).

A commit is a sync (SQLite's fsync with synchronous=FULL, PostgreSQL's WAL flush), and a
feed's commit also serialises on what every feed takes (SQLite's one writer, PostgreSQL's
audit chain lock): feeds that each committed on their own went no faster from many
connections than from one (ADR 0039, 0044). Here no request thread writes at all. The
writer thread takes every call queued so far (up to `max_batch`), and

- opens one transaction (the engine's `_begin`, when the first unit of work opens);
- runs each call in turn; every unit of work a call opens is a SAVEPOINT of that
  transaction: committing it releases the savepoint (its writes join the batch) and
  returns at once, rolling it back undoes its writes alone, so one failing call never
  fails its neighbours;
- commits once (the engine's `_commit`), then tells each call's `done` its result. A call
  is answered only once the writes it kept are durable; if the commit fails, every call
  that kept writes is told the error the engine maps the failure to, never its result.

If the engine rolls the whole transaction back in the middle of a batch (SQLite on a full
disk, PostgreSQL on a lost connection), the calls that had kept writes in it are told so,
and the rest of the batch goes on in a fresh transaction. A lone call commits at once: the
writer never waits for a timer, so a batch is exactly the calls that queued while the
previous batch ran.

What a transaction, a savepoint and a commit are is the engine's (`Writer`'s abstract
methods); the queue, the batches, which call kept what and when to answer are this module's.
Only the writer thread may open its units of work: the use case runs inside `submit`'s call,
never beside it. `close()` stops taking calls, lets the writer finish what was queued, and
closes its connection.
"""

from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from partner_ingest.adapters_out.store_errors import BatchNotDurable
from partner_ingest.ports.unit_of_work import Done

if TYPE_CHECKING:
    import logging

__all__ = ["Writer"]


THREAD_NAME: Final = "partner-ingest-writer"
LOST: Final = "the database rolled the transaction back; nothing was stored"


def _log() -> logging.Logger:
    """This module's logger, with `logging` imported on the first line logged: a command
    that logs nothing does not load it (ADR 0042)."""
    import logging

    return logging.getLogger(__name__)


@attrs.define
class _Call:
    work: Callable[[], object]
    done: Done
    kept: bool = False
    """The call committed a unit of work: its answer waits for the batch's commit."""
    value: object = None
    error: BaseException | None = None


_STOP: Final = object()


class Writer(abc.ABC):
    """The writer thread (see the module); started on the first `submit`, `close()` at shutdown."""

    def __init__(self, *, max_batch: int = 64) -> None:
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._current: _Call | None = None
        self._open = False
        """A unit of work of the current call is open (its savepoint is)."""
        self.batches = 0
        """Batches committed so far (tests read it)."""

    # The engine's part.
    @abc.abstractmethod
    def _connect(self) -> None:
        """Get ready to write, before the thread starts (`_starting` held)."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Close or give back the connection, once the thread has stopped."""

    @abc.abstractmethod
    def _in_transaction(self) -> bool:
        """Is the batch's transaction open (the engine may have rolled it back on an error)?"""

    @abc.abstractmethod
    def _begin(self) -> None:
        """Begin the batch's transaction (none is open)."""

    @abc.abstractmethod
    def _savepoint(self) -> None:
        """Open a unit of work's savepoint."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Keep the unit's writes in the transaction (release its savepoint)."""

    @abc.abstractmethod
    def _rollback_to(self) -> None:
        """Undo the unit's writes alone (roll back to its savepoint, and release it)."""

    @abc.abstractmethod
    def _commit(self, *, kept: bool) -> BaseException | None:
        """Commit the batch's transaction (roll it back when no call `kept` writes); the error
        to tell the calls that kept writes, if it failed. No transaction is left open either way."""

    # What the units of work call, on the writer thread.
    def in_call(self) -> bool:
        """Is this the writer thread, running a call?"""
        return threading.current_thread() is self._thread and self._current is not None

    def enter(self) -> None:
        """Open the current call's unit of work: a savepoint, in the batch's transaction."""
        if self._current is None or self._open:
            raise RuntimeError("this thread already has a unit of work open on its connection")
        if not self._in_transaction():
            self._begin()
        self._savepoint()
        self._open = True

    def leave(self, *, keep: bool) -> None:
        """Keep (its call then waits for the batch's commit) or undo the open unit's writes."""
        if not self._open:
            return
        self._open = False
        if not self._in_transaction():
            if keep:
                raise BatchNotDurable(LOST)
            return
        if keep:
            self._release()
            assert self._current is not None
            self._current.kept = True
        else:
            self._rollback_to()

    # The queue.
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

    def close(self) -> None:
        """Take no more calls; finish the queued ones; close the connection."""
        with self._starting:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()
        self._disconnect()

    def _start(self) -> None:
        """Get the engine ready and start the thread (`_starting` held)."""
        self._connect()
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
            if pending and not self._in_transaction():
                # The engine rolled the whole transaction back (a full disk, a lost connection).
                self._lose(pending, BatchNotDurable(LOST))
                pending = []
        try:
            failure = self._commit(kept=bool(pending))
        except Exception as error:  # the writer outlives a failed batch: the next one begins afresh
            _log().exception("the writer's commit failed")
            failure = BatchNotDurable(f"the batch could not be committed: {error}")
        if failure is not None:
            self._lose(pending, failure)
        elif pending:
            self.batches += 1
        for call in calls:
            try:
                call.done(call.value, call.error)
            except Exception:  # one caller's answer must not keep the others from theirs
                _log().exception("a writer call's answer failed")

    @staticmethod
    def _lose(calls: list[_Call], failure: BaseException) -> None:
        """The writes these calls kept were not made durable: each is told so (an error of its
        own, since each is raised in its own request), not its result."""
        for call in calls:
            if call.error is None:
                call.value, call.error = None, type(failure)(*failure.args)
