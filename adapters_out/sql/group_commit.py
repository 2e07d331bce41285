"""Group commit's turns and batches, for either engine: concurrent writers share one transaction.

The writers of one process take turns on one connection, each inside a SAVEPOINT of a
transaction they share (ADR 0039; PostgreSQL: ADR 0044):

- a unit of work that commits releases its savepoint (its writes join the shared
  transaction) and then waits until that transaction is committed: its caller is
  answered only once its writes are durable;
- one that fails, or leaves without committing, rolls back to its savepoint: its
  neighbours' writes stay, so one bad request never fails the others;
- the writer that ends its turn while nobody is waiting for one (or when the batch is
  full) commits the shared transaction: one commit, one sync, for the batch. So a batch
  is exactly the writers that queued while others wrote, or while a commit was in
  flight; a lone writer commits at once, never waits for a timer.

Waking is targeted: ending a turn wakes one waiting writer (any of them can take it), and
a batch's commit wakes only that batch's members (an event each batch has). With one
condition for both, every turn woke every waiting thread of a busy server to find the
turn taken again, and those wake-ups, each taking the GIL, cost more than the writes.

If the COMMIT fails, or the engine lost the shared transaction on an error, every unit of
work of the batch raises: none of them was made durable, and none is answered as if it
were. What a transaction, a savepoint and a commit are is the engine's (`GroupTurns`'
abstract methods); when to take a turn, when to commit and whom to wake is this module's.
"""

from __future__ import annotations

import abc
import threading
from typing import Generic, TypeVar

import attrs

from partner_ingest.adapters_out.store_errors import StoreBusyError

__all__ = ["Batch", "BatchNotDurable", "GroupTurns"]


class BatchNotDurable(StoreBusyError):
    """The shared transaction of a batch could not be committed: nothing of it was kept, and
    the request may be sent again (answered 503 `store_busy`, like a database that stayed locked)."""


@attrs.define
class Batch:
    """One shared transaction's members and outcome (an engine adds what it gathers for its commit)."""

    members: int = 0
    """Units of work whose writes are in the shared transaction, waiting for its commit."""
    done: bool = False
    error: str | None = None
    durable: threading.Event = attrs.field(factory=threading.Event)
    """Set once the batch is committed or lost (`done`, `error`): wakes its members alone."""


B = TypeVar("B", bound=Batch)


class GroupTurns(Generic[B], abc.ABC):
    """Turns on one connection and the batches they fill; the engine says how to open, close and commit."""

    def __init__(self, *, max_batch: int = 64) -> None:
        self._max_batch = max_batch
        self._turn = threading.Condition()
        self._busy = False
        self._owner: int | None = None
        self._waiting = 0
        self._batch = self._new_batch()
        self.batches = 0
        """Batches committed so far (tests and metrics read it)."""

    @abc.abstractmethod
    def _new_batch(self) -> B:
        """An empty batch."""

    @abc.abstractmethod
    def _in_transaction(self) -> bool:
        """Is the shared transaction still open (the engine may have rolled it back on an error)?"""

    @abc.abstractmethod
    def _open(self, batch: B) -> None:
        """Begin the shared transaction if none is open, then this unit's savepoint."""

    @abc.abstractmethod
    def _close(self, batch: B, *, keep: bool) -> None:
        """Release (keep) or roll back to this unit's savepoint; the transaction is open."""

    @abc.abstractmethod
    def _commit(self, batch: B) -> str | None:
        """Commit the shared transaction (roll it back when it has no members); the error, if it
        failed. No transaction is left open either way."""

    def _failure(self, batch: B) -> BaseException:
        """What each member of a batch that was not made durable raises."""
        return BatchNotDurable(batch.error)

    def enter(self) -> B:
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
            self._open(batch)
        except BaseException:
            self._end_turn(batch, flush=self._waiting == 0 or batch.members > 0)
            raise
        return batch

    def leave(self, batch: B, *, keep: bool) -> None:
        """End the turn: keep (and wait until the batch is durable) or undo this unit's writes."""
        lost = batch.members > 0 and not self._in_transaction()
        try:
            if self._in_transaction():
                self._close(batch, keep=keep)
            elif keep:
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
        if batch.error is not None:
            raise self._failure(batch)

    def _end_turn(self, batch: B, *, flush: bool, lost: bool = False) -> None:
        error: str | None = "the database rolled the transaction back" if lost else None
        if flush:
            error = self._commit(batch) or error
        with self._turn:
            if flush:
                batch.done, batch.error = True, error
                if batch.members and error is None:
                    self.batches += 1
                self._batch = self._new_batch()
            self._busy, self._owner = False, None
            # Every waiter waits for the same thing, a free turn: one is enough. A writer
            # that takes the turn before it ends its own and wakes the next.
            self._turn.notify()
        if flush:
            batch.durable.set()
