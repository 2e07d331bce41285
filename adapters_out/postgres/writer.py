"""The writer thread's PostgreSQL part (ADR 0043, 0044): a pooled connection per batch, the
batch lock, and the audit chain appended once, at the batch's commit.

Every feed appends to the audit chain, and the chain is linear across instances: an append
takes the chain's advisory lock and holds it until its transaction has committed
(`audit.py`). With a transaction per feed, the feeds of every instance therefore committed
one at a time, one WAL sync each. In the writer's batches (the queue, the savepoints and
when each call is answered are `adapters_out/sql/writer.py`'s), the lock, the chain's
newest-hash read and the sync are paid once per batch:

- a unit of work that commits releases its savepoint and hands its audit entries (and
  whether it wrote products) to the batch; the batch's commit appends them all, in the order
  the units committed, under one chain lock, numbers the transaction for the change feed
  (ADR 0037), and commits. The chain lock is taken there, last, so it is held for the
  batch's commit alone, as a single unit of work holds it for its own;
- a unit that fails rolls back to its savepoint alone (PostgreSQL aborts the whole
  transaction on a failed statement; the savepoint is what keeps the neighbours' writes);
- a unit's feed register (a session table emptied at commit) is emptied before it is kept,
  since the next call's feed shares the transaction;
- if the COMMIT fails, or the connection is lost mid-batch, every call that kept writes is
  told `BatchNotDurable` (503 `store_busy`: send it again); none is answered as stored.

A batch holds the row locks of every call's writes until its commit, in the order its calls
came. Two instances' batches open at once would write the same products in other orders (one
partner's feeds through both) and deadlock, one of them failing each `deadlock_timeout`. So
a batch takes a lock of its own (a transaction-scoped advisory lock named after the schema) as
its transaction begins: the batches of all instances take turns on the database, while each
instance's next batch gathers in its writer's queue. Units of work that are not the writer's
(jobs, the CLI, admin writes) do not take it: they wait for a batch's rows as they would for
another feed's, and a batch for theirs.

The connection is borrowed from the store's pool for a batch and given back at its commit, so
a server restart costs a reconnect (the pool's check), as for any unit of work; one lost in
the middle of a batch is given back (the pool discards it) and the next unit borrows another.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Final, Self

import psycopg
from psycopg.pq import TransactionStatus

from partner_ingest.adapters_out.sql.writer import Writer
from partner_ingest.adapters_out.store_errors import BatchNotDurable
from partner_ingest.domain.model.audit import AuditEntry

from .audit import PostgresAuditLog
from .changes import number_commit
from .connection import Connection, advisory_key
from .store import PostgresStore, PostgresUnitOfWork, _one_line

__all__ = ["PostgresWriter", "WriterPostgresUnitOfWork"]

_OPEN: Final = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


class PostgresWriter(Writer):
    """The writer thread on a PostgreSQL schema (see the module); `close()` at shutdown, before
    the store."""

    def __init__(self, store: PostgresStore, *, max_batch: int = 64) -> None:
        super().__init__(max_batch=max_batch)
        self._store = store
        self._lock = advisory_key("group_commit", store.schema)
        self._conn: Connection | None = None
        self._audit: list[AuditEntry] = []
        """The kept units' audit entries, appended to the chain at the batch's commit."""
        self._numbered = False
        """Did a kept unit write products (so the transaction takes a change-feed commit number)?"""

    def unit_of_work(self, *, read_only: bool = False) -> PostgresUnitOfWork:
        """A savepoint of the writer's transaction, for the call running now; readers get the
        store's own unit of work (a pooled connection)."""
        if read_only:
            return self._store.unit_of_work(read_only=True)
        if threading.current_thread() is not self._thread:
            raise RuntimeError("the writer's units of work open only inside a call it runs (submit)")
        return WriterPostgresUnitOfWork(self)

    @property
    def conn(self) -> Connection:
        """The connection of the batch being written (only while a unit of work is open)."""
        if self._conn is None:
            raise RuntimeError("no batch is open")
        return self._conn

    def hand_over(self, audit: list[AuditEntry], *, wrote: bool) -> None:
        """A kept unit's audit entries, and whether it wrote products, for the batch's commit."""
        self._audit.extend(audit)
        self._numbered = self._numbered or wrote

    def _connect(self) -> None:
        """Nothing yet: a batch borrows its connection when its first unit of work opens."""

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._store.give_back(conn)  # an open transaction, if any, rolls back

    def _in_transaction(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.broken and conn.info.transaction_status in _OPEN

    def _begin(self) -> None:
        # A connection lost (or left aborted) earlier in this batch goes back to the pool, which
        # discards or rolls it back; the rest of the batch goes on on another.
        self._disconnect()
        self._audit, self._numbered = [], False
        conn = self._conn = self._store.borrow()
        # The batches of every instance, one at a time (see the module): taken as the
        # transaction begins (psycopg begins it with this statement), held until it ends.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock,))

    def _savepoint(self) -> None:
        self.conn.execute("SAVEPOINT unit_of_work")

    def _release(self) -> None:
        self.conn.execute("RELEASE SAVEPOINT unit_of_work")

    def _rollback_to(self) -> None:
        conn = self.conn
        conn.execute("ROLLBACK TO SAVEPOINT unit_of_work")
        conn.execute("RELEASE SAVEPOINT unit_of_work")

    def _commit(self, *, kept: bool) -> BaseException | None:
        conn, self._conn = self._conn, None
        audit, numbered = self._audit, self._numbered
        self._audit, self._numbered = [], False
        if conn is None:
            return None
        try:
            status = None if conn.broken else conn.info.transaction_status
            if not kept:
                if status in _OPEN:
                    conn.rollback()
                return None
            if status is not TransactionStatus.INTRANS:
                return BatchNotDurable("the connection or the transaction was lost before the batch's commit")
            # Last, so that the locks they take are held for the commit alone.
            log = PostgresAuditLog(conn)
            log.append_many(audit)
            log.flush()
            if numbered:
                number_commit(conn)
            conn.commit()
        except psycopg.Error as failure:
            if not conn.broken:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
            return BatchNotDurable(f"the batch could not be committed: {_one_line(failure)}")
        finally:
            self._store.give_back(conn)
        return None


class WriterPostgresUnitOfWork(PostgresUnitOfWork):
    """A unit of work of a call the writer runs: a savepoint of the batch's transaction."""

    def __init__(self, writer: PostgresWriter) -> None:
        super().__init__(writer._store)
        self._writer = writer
        self._entered = False

    def __enter__(self) -> Self:
        if self._entered:
            raise RuntimeError("this unit of work is already open")
        try:
            self._writer.enter()
        except psycopg.OperationalError as error:
            # The server's refusals carry a SQLSTATE (a timeout, a deadlock); a lost connection none.
            raise self._store.unavailable(error, lost=error.sqlstate is None) from error
        self._entered = True
        self._attach(self._writer.conn)
        return self

    def _leave(self, conn: Connection, *, lost: bool) -> None:
        """Undo what this unit did not commit (its savepoint); the connection stays the batch's."""
        self.rollback()

    def commit(self) -> None:
        """Keep this unit's writes in the batch; its call is answered once the batch is committed."""
        conn = self._open()
        if not conn.broken and conn.info.transaction_status is TransactionStatus.INERROR:
            self.rollback()
            raise RuntimeError(
                "a statement of this unit of work failed and was not undone; nothing was stored"
            )
        self.feed_skus.forget()
        audit = self.audit.take()
        self._writer.leave(keep=True)
        self._writer.hand_over(audit, wrote=self.products.wrote)

    def rollback(self) -> None:
        """Undo this unit's writes alone; its neighbours' stay."""
        self.audit.discard()
        self._writer.leave(keep=False)
