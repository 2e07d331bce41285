"""Group commit on PostgreSQL (ADR 0044): concurrent small feeds of one process share a transaction.

Every feed appends to the audit chain, and the chain is linear across instances: an
append takes the chain's advisory lock and holds it until its transaction has
committed (`audit.py`). With a transaction per feed, the feeds of every instance
therefore committed one at a time, one WAL sync each. Here the writers of one process
take turns on one pooled connection, each inside a SAVEPOINT of a transaction they share
(the turns and batches are `adapters_out/sql/group_commit.py`'s, as on SQLite), and the
lock, the chain's newest-hash read and the sync are paid once per batch:

- a member that commits releases its savepoint and hands its audit entries (and whether
  it wrote products) to the batch; the batch's commit appends them all, in the order the
  members committed, under one chain lock, numbers the transaction for the change feed
  (ADR 0037), and commits. The chain lock is taken there, last, so it is held for the
  batch's commit alone, as a single unit of work holds it for its own;
- a member that fails rolls back to its savepoint alone (PostgreSQL aborts the whole
  transaction on a failed statement; the savepoint is what keeps the neighbours' writes);
- a member's feed register (a session table emptied at commit) is emptied when it leaves,
  since the next member's feed shares the transaction;
- if the COMMIT fails, or the connection is lost mid-batch, every member raises
  `BatchNotDurable` (503 `store_busy`: send it again); none is answered as stored.

A batch holds the row locks of every member's writes until its commit, in the order its
members came. Two instances' batches open at once would write the same products in other
orders (one partner's feeds through both) and deadlock, one member failing each
`deadlock_timeout`. So a batch takes a lock of its own (a transaction-scoped advisory lock
named after the schema) as its transaction begins: the batches of all instances take turns
on the database, while each instance's next batch gathers behind its waiting writer. Units of
work that are not grouped (jobs, the CLI, admin writes) do not take it: they wait for a
batch's rows as they would for another feed's, and a batch for theirs.

The connection is borrowed from the store's pool for a batch and given back at its
commit, so a server restart costs a reconnect (the pool's check), as for any unit of work.
"""

from __future__ import annotations

import contextlib
from typing import Self

import attrs
import psycopg
from psycopg.pq import TransactionStatus

from partner_ingest.adapters_out.sql.group_commit import Batch, BatchNotDurable, GroupTurns
from partner_ingest.domain.model.audit import AuditEntry

from .audit import PostgresAuditLog
from .changes import number_commit
from .connection import Connection, advisory_key
from .store import PostgresStore, PostgresUnitOfWork, _one_line

__all__ = ["BatchNotDurable", "GroupedPostgresUnitOfWork", "PostgresGroupCommit"]

_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


@attrs.define
class _Batch(Batch):
    audit: list[AuditEntry] = attrs.Factory(list)
    """The members' audit entries, appended to the chain at the batch's commit."""
    numbered: bool = False
    """Did a member write products (so the transaction takes a change-feed commit number)?"""


class PostgresGroupCommit(GroupTurns[_Batch]):
    """Hands out units of work that commit in groups; `close()` at shutdown (before the store)."""

    def __init__(self, store: PostgresStore, *, max_batch: int = 64) -> None:
        self._store = store
        self._conn: Connection | None = None
        self._lock = advisory_key("group_commit", store.schema)
        super().__init__(max_batch=max_batch)

    def unit_of_work(self, *, read_only: bool = False) -> PostgresUnitOfWork:
        """A grouped unit of work for writers; readers get the store's own (a pooled connection)."""
        if read_only:
            return self._store.unit_of_work(read_only=True)
        return GroupedPostgresUnitOfWork(self)

    @property
    def conn(self) -> Connection:
        """The connection of the batch being written (only while a member has the turn)."""
        if self._conn is None:
            raise RuntimeError("no batch is open")
        return self._conn

    def close(self) -> None:
        """Give back a connection left borrowed (its open batch, if any, rolls back)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._store.give_back(conn)

    def _new_batch(self) -> _Batch:
        return _Batch()

    def _in_transaction(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.broken and conn.info.transaction_status in _OPEN

    def _open(self, batch: _Batch) -> None:
        conn = self._conn
        if (
            conn is not None
            and batch.members == 0
            and conn.info.transaction_status is not TransactionStatus.INTRANS
        ):
            # A writer before this one failed to open its savepoint (the connection broke, the
            # lock timed out) and none has joined: start afresh (the pool rolls back or discards).
            self.close()
            conn = None
        if conn is None:
            conn = self._conn = self._store.borrow()
        if conn.info.transaction_status is TransactionStatus.IDLE:
            # The batches of every instance, one at a time (see the module): taken as the shared
            # transaction begins, held until it ends.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock,))
        # psycopg begins the shared transaction with the first statement.
        conn.execute("SAVEPOINT unit_of_work")

    def _close(self, batch: _Batch, *, keep: bool) -> None:
        conn = self.conn
        if not keep:
            conn.execute("ROLLBACK TO SAVEPOINT unit_of_work")
        conn.execute("RELEASE SAVEPOINT unit_of_work")

    def _commit(self, batch: _Batch) -> str | None:
        conn, self._conn = self._conn, None
        if conn is None:
            return "the connection was lost before the batch's commit" if batch.members else None
        try:
            status = None if conn.broken else conn.info.transaction_status
            if not batch.members:
                if status in _OPEN:
                    conn.rollback()
                return None
            if status is not TransactionStatus.INTRANS:
                return "the connection or the transaction was lost before the batch's commit"
            # Last, so that the locks they take are held for the commit alone.
            log = PostgresAuditLog(conn)
            log.append_many(batch.audit)
            log.flush()
            if batch.numbered:
                number_commit(conn)
            conn.commit()
        except psycopg.Error as failure:
            if not conn.broken:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
            return f"the batch could not be committed: {_one_line(failure)}"
        finally:
            self._store.give_back(conn)
        return None


class GroupedPostgresUnitOfWork(PostgresUnitOfWork):
    """A unit of work inside a batch: a savepoint of the shared transaction (see the module)."""

    def __init__(self, group: PostgresGroupCommit) -> None:
        super().__init__(group._store)
        self._group = group
        self._batch: _Batch | None = None

    def __enter__(self) -> Self:
        if self._batch is not None:
            raise RuntimeError("this unit of work is already open")
        try:
            self._batch = self._group.enter()
        except psycopg.OperationalError as error:
            # The server's refusals carry a SQLSTATE (a timeout, a deadlock); a lost connection none.
            raise self._store.unavailable(error, lost=error.sqlstate is None) from error
        self._attach(self._group.conn)
        return self

    def _leave(self, conn: Connection, *, lost: bool) -> None:
        """Undo what this unit did not commit (its savepoint) and end its turn; the connection
        stays with the batch."""
        self.rollback()

    def commit(self) -> None:
        """Keep this unit's writes; return once the batch holding them is committed (durable)."""
        batch = self._batch
        conn = self._open()
        if batch is None:
            raise RuntimeError("the unit of work is not open (use it in a with block)")
        if not conn.broken and conn.info.transaction_status is TransactionStatus.INERROR:
            self.rollback()
            raise RuntimeError(
                "a statement of this unit of work failed and was not undone; nothing was stored"
            )
        self.feed_skus.forget()
        batch.audit.extend(self.audit.take())
        batch.numbered = batch.numbered or self.products.wrote
        self._batch = None
        self._group.leave(batch, keep=True)

    def rollback(self) -> None:
        """Undo this unit's writes alone; its neighbours' stay."""
        self.audit.discard()
        batch, self._batch = self._batch, None
        if batch is not None:
            self._group.leave(batch, keep=False)
