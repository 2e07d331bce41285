"""The PostgreSQL standalone audit log commits concurrent appends together (ADR 0028): the chain
lock is held through each commit, so one transaction per entry would cap every process at one
commit latency per audit entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

import pytest
from support.postgres import postgres_store

from partner_ingest.adapters_out.postgres.audit import PostgresStandaloneAuditLog
from partner_ingest.adapters_out.postgres.connection import Connection
from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        datetime(2026, 1, 1, tzinfo=UTC), AuditAction.AUTH_FAILED, Outcome.DENIED, f"caller-{n}"
    )


def test_concurrent_appends_share_transactions_and_every_one_is_durable() -> None:
    with postgres_store() as store:
        transactions = 0
        count_lock = threading.Lock()

        @contextmanager
        def counted() -> Iterator[Connection]:
            nonlocal transactions
            with count_lock:
                transactions += 1
            with store.connection() as conn:
                yield conn

        log = PostgresStandaloneAuditLog(counted)
        threads, each = 16, 20
        start = threading.Barrier(threads)

        def append(t: int) -> None:
            start.wait()
            for n in range(each):
                log.append(entry(t * 100 + n))

        workers = [threading.Thread(target=append, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        verdict = VerifyAuditChain(store.audit_log)()
        assert (verdict.ok, verdict.entries) == (True, threads * each)
        assert transactions < threads * each  # grouped: fewer commits than entries


def test_a_failed_batch_raises_in_every_caller_and_the_next_append_writes() -> None:
    with postgres_store() as store:
        failing = True

        def connection() -> AbstractContextManager[Connection]:
            if failing:
                raise RuntimeError("the database is gone")
            return store.connection()

        log = PostgresStandaloneAuditLog(connection)
        with pytest.raises(RuntimeError, match="gone"):
            log.append(entry(1))
        failing = False
        log.append(entry(2))  # not stuck behind the failed batch
        verdict = VerifyAuditChain(store.audit_log)()
        assert (verdict.ok, verdict.entries) == (True, 1)
