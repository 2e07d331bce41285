"""The writer thread's SQLite part (ADR 0043): one connection of the writer's own, BEGIN
IMMEDIATE for a batch, its savepoints, the audit chain appended once at the batch's commit,
and a full disk told as a full store.

The queue, the batches and when each call is answered are `adapters_out/sql/writer.py`'s.
With synchronous=FULL every COMMIT is an fsync, and SQLite has one writer at a time: the
batch's one COMMIT is one fsync for all its calls. If SQLite rolls the whole transaction
back mid-batch (a full disk, an I/O error), the calls that had kept writes in it are told
so and the rest of the batch goes on in a fresh transaction. Readers keep their own
connections (WAL: they never block the writer) and see a batch once committed; writers of
other processes (a worker, the scheduler) take SQLite's lock between batches.

Every feed appends to the audit chain (ADR 0028), and an append reads the chain's newest
hash before it inserts. A unit of work that is kept hands its entries to the batch instead;
the batch's commit appends them all, in the order the units were kept, with one newest-hash
read and one insert, as PostgreSQL's part does. A unit that is undone hands none; a batch
whose transaction is lost or whose commit fails keeps none (the append is in the
transaction it commits).

Three reads every feed makes (its partner's webhook, whether the partner has open
diagnostics, its latest applied import) are answered once a batch: the batch holds the write
lock, so only its own units change them, and what they write through their repositories, or a
unit undone, or the transaction's end, forgets the answers (batch_reads.py, ADR 0046).

Read-only units of work are the store's own.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import TYPE_CHECKING, Self

import attrs

from partner_ingest.adapters_out.sql.writer import Writer
from partner_ingest.adapters_out.store_errors import BatchNotDurable

from .batch_reads import BatchReads
from .connection import connect
from .store import SqliteStore, SqliteUnitOfWork, full_error, is_full, made_once

if TYPE_CHECKING:
    # Imported on first use, as the store's repositories are: the audit chain loads OpenSSL.
    from partner_ingest.domain.model.audit import AuditEntry

    from .audit import PendingSqliteAuditLog
    from .batch_repositories import BatchDiagnostics, BatchLedger, BatchWebhooks
    from .products import SqliteFeedSkuRegister

__all__ = ["SqliteWriter", "WriterUnitOfWork"]


class SqliteWriter(Writer):
    """The writer thread on a SQLite database (see the module); `close()` at shutdown."""

    def __init__(self, store: SqliteStore, *, max_batch: int = 64) -> None:
        super().__init__(max_batch=max_batch)
        self._store = store
        self._conn: sqlite3.Connection | None = None
        self._audit: list[AuditEntry] = []
        """The kept units' audit entries, appended to the chain at the batch's commit."""
        self.reads = BatchReads()
        """Answers kept for the batch's units (batch_reads.py): forgotten when a unit is undone
        and when the transaction begins or ends."""
        self.shared: dict[str, object] = {}
        """The repositories every unit of the writer's connection uses as they are (`_shared`)."""
        self.kinds: _Kinds
        """The classes of the repositories each unit makes afresh (`_kinds`)."""

    def unit_of_work(self, *, read_only: bool = False) -> SqliteUnitOfWork:
        """A savepoint of the writer's transaction, for the call running now; readers get the
        store's own unit of work (their thread's connection)."""
        if read_only:
            return self._store.unit_of_work(read_only=True)
        if threading.current_thread() is not self._thread or self._conn is None:
            raise RuntimeError("the writer's units of work open only inside a call it runs (submit)")
        return WriterUnitOfWork(self, self._conn)

    def hand_over(self, audit: list[AuditEntry]) -> None:
        """A kept unit's audit entries, for the batch's commit."""
        self._audit.extend(audit)

    def _connect(self) -> None:
        self._conn = connect(self._store.path, busy_timeout=self._store.busy_timeout)
        self.shared = _shared(self._conn, self.reads)
        self.kinds = _kinds()

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def _begin(self) -> None:
        # Entries handed over in a transaction the database rolled back were never stored, and
        # what was read in it may have changed since.
        self._audit = []
        self.reads.clear()
        self._store.begin(self._connection(), read_only=False)

    def _savepoint(self) -> None:
        self._connection().execute("SAVEPOINT unit_of_work")

    def _release(self) -> None:
        self._connection().execute("RELEASE unit_of_work")

    def _rollback_to(self) -> None:
        self.reads.clear()
        conn = self._connection()
        conn.execute("ROLLBACK TO unit_of_work")
        conn.execute("RELEASE unit_of_work")

    def _commit(self, *, kept: bool) -> BaseException | None:
        conn = self._connection()
        audit, self._audit = self._audit, []
        self.reads.clear()
        if not conn.in_transaction:
            return None
        try:
            if kept and audit:
                from .audit import SqliteAuditLog

                # In the transaction it commits: a failed commit keeps none of them.
                SqliteAuditLog(conn).append_many(audit)
            conn.execute("COMMIT" if kept else "ROLLBACK")
        except sqlite3.Error as failure:
            # The writer outlives a failed batch: the next one begins afresh.
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            if is_full(failure):
                return full_error(str(self._store.path), failure)
            return BatchNotDurable(f"the batch could not be committed: {failure}")
        return None


@attrs.frozen
class _Kinds:
    """The repositories every unit of the writer makes afresh, imported once (with the
    connection), not by every feed."""

    pending_audit: type[PendingSqliteAuditLog]
    feed_skus: type[SqliteFeedSkuRegister]


def _kinds() -> _Kinds:
    from .audit import PendingSqliteAuditLog
    from .products import SqliteFeedSkuRegister

    return _Kinds(PendingSqliteAuditLog, SqliteFeedSkuRegister)


def _shared(conn: sqlite3.Connection, reads: BatchReads) -> dict[str, object]:
    """The repositories that hold the writer's connection (and the batch's kept answers) and
    nothing of a unit's own, by the unit's attribute: every unit of the connection uses the
    same ones. Each feed read a few of them, and importing and making them again a unit was
    a visible share of the writer thread's work for a small feed."""
    from partner_ingest.adapters_out.sql.idempotency import SqlIdempotencyKeys

    from .batch_repositories import BatchDiagnostics, BatchLedger, BatchWebhooks
    from .dialect import SQLITE
    from .products import SqliteProductRepository

    return {
        "products": SqliteProductRepository(conn),
        "imports": BatchLedger(conn, reads),
        "webhooks": BatchWebhooks(conn, reads),
        "diagnostics": BatchDiagnostics(conn, reads),
        "idempotency_keys": SqlIdempotencyKeys(conn, SQLITE),
    }


class WriterUnitOfWork(SqliteUnitOfWork):
    """A unit of work of a call the writer runs: a savepoint of the batch's transaction.

    Its ledger, webhooks and diagnostics keep answers for the batch (batch_repositories.py);
    they and the other repositories that hold nothing of a unit's own are the writer's
    (`_shared`), found in the unit's dict from the start."""

    if TYPE_CHECKING:
        imports: BatchLedger
        webhooks: BatchWebhooks
        diagnostics: BatchDiagnostics

    def __init__(self, writer: SqliteWriter, conn: sqlite3.Connection) -> None:
        super().__init__(writer._store, connection=conn)
        self._writer = writer
        self.__dict__.update(writer.shared)

    def __enter__(self) -> Self:
        self._writer.enter()
        return self

    # __exit__ is the store's own: rollback (this unit's writes alone) and a full disk raised
    # as StoreFullError.

    @made_once
    def audit(self) -> PendingSqliteAuditLog:
        """Entries kept in memory until this unit is kept: the batch appends them at its commit."""
        return self._writer.kinds.pending_audit(self.conn)

    @made_once
    def feed_skus(self) -> SqliteFeedSkuRegister:
        """The SKUs of this unit's feed (its own: a register remembers what it was told)."""
        return self._writer.kinds.feed_skus(self.conn)

    def commit(self) -> None:
        """Keep this unit's writes in the batch; its call is answered once the batch is committed."""
        audit = self.audit.take() if "audit" in self.__dict__ else []
        self._writer.leave(keep=True)
        self._writer.hand_over(audit)

    def rollback(self) -> None:
        """Undo this unit's writes alone; its neighbours' stay."""
        if "audit" in self.__dict__:
            self.audit.discard()
        self._writer.leave(keep=False)
