"""The audit chain in the SQL stores (ADR 0028): tampering with raw SQL, around the triggers, is
found and named; migration 0007 chains the rows written before it; concurrent appenders never fork it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from support.sql_stores import SqlKit, SqlStore

from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.audit_chain import ChainVerdict
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def entry(n: int, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": T0 + timedelta(seconds=n),
        "action": AuditAction.AUTH_FAILED,
        "outcome": Outcome.DENIED,
        "actor": f"anonymous-{n}",
        "partner_id": None if n % 2 else "acme",
        "client": "203.0.113.9",
        "details": {"n": n, "why": "bad | key\n", "é": 1.5},
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


def verify(store: SqlStore) -> ChainVerdict:
    return VerifyAuditChain(store.audit_log, batch=3)()  # small batches: the walk crosses several


def appended(kit: SqlKit, count: int) -> SqlStore:
    store = kit.migrated_store()
    store.audit_log.append_many([entry(n) for n in range(1, count + 1)])
    return store


def without_triggers(kit: SqlKit, statement: str) -> None:
    """What the owner of the database can do: lift the append-only guard, then edit history."""
    if kit.kind == "sqlite":
        kit.execute(
            "DROP TRIGGER partner_ingest_audit_no_update",
            "DROP TRIGGER partner_ingest_audit_no_delete",
            statement,
        )
    else:
        kit.execute(
            "ALTER TABLE partner_ingest_audit DISABLE TRIGGER partner_ingest_audit_no_update_or_delete",
            statement,
        )


def test_an_untouched_chain_verifies_with_its_count(kit: SqlKit) -> None:
    store = appended(kit, 7)
    try:
        with store.unit_of_work() as uow:
            uow.audit.append(entry(8))
            uow.commit()
        with store.unit_of_work() as uow:
            uow.audit.append(entry(9))  # rolled back: never part of the chain
        verdict = verify(store)
        assert (verdict.ok, verdict.entries) == (True, 8)
    finally:
        store.close()


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE partner_ingest_audit SET outcome = 'success' WHERE id = 4",
        "UPDATE partner_ingest_audit SET details = '{\"n\":0}' WHERE id = 4",
        "UPDATE partner_ingest_audit SET actor = 'someone else' WHERE id = 4",
    ],
)
def test_an_edited_entry_is_named_as_the_first_broken_link(kit: SqlKit, edit: str) -> None:
    store = appended(kit, 6)
    try:
        without_triggers(kit, edit)
        verdict = verify(store)
        assert verdict.first_break is not None
        assert (verdict.first_break.entry_id, verdict.entries) == (4, 3)
        assert "content altered" in verdict.first_break.problem
    finally:
        store.close()


def test_an_edit_that_recomputes_its_own_hash_breaks_the_next_link(kit: SqlKit) -> None:
    store = appended(kit, 6)
    try:
        without_triggers(kit, "UPDATE partner_ingest_audit SET hash = 'f' || substr(hash, 2) WHERE id = 2")
        verdict = verify(store)
        assert verdict.first_break is not None
        # Entry 2's stored hash no longer matches its content: it is the first to fail.
        assert verdict.first_break.entry_id == 2
    finally:
        store.close()


def test_a_deleted_middle_entry_is_found_at_the_entry_after_it(kit: SqlKit) -> None:
    store = appended(kit, 6)
    try:
        without_triggers(kit, "DELETE FROM partner_ingest_audit WHERE id = 3")
        verdict = verify(store)
        assert verdict.first_break is not None
        assert (verdict.first_break.entry_id, verdict.entries) == (4, 2)
        assert "link broken" in verdict.first_break.problem and "entry 2" in verdict.first_break.problem
    finally:
        store.close()


def test_an_entry_inserted_around_the_audit_log_is_found(kit: SqlKit) -> None:
    store = appended(kit, 3)
    try:
        kit.execute(
            "INSERT INTO partner_ingest_audit (at, action, outcome, actor, details, previous_hash, hash)"
            " VALUES ('2026-01-01T00:00:00.000000Z', 'auth.failed', 'denied', 'forged', '{}', 'x', 'y')"
        )
        verdict = verify(store)
        assert verdict.first_break is not None and verdict.first_break.entry_id == 4
        assert verdict.entries == 3
    finally:
        store.close()


def test_migration_0007_chains_the_entries_written_before_it(kit: SqlKit) -> None:
    kit.migrate_to(6)
    rows = [
        ("2026-01-01T00:00:00.000001Z", "auth.failed", "denied", "anonymous", None, None, "{}"),
        (
            "2026-01-02T10:11:12.500000Z",
            "feed.ingested",
            "success",
            "acme",
            "acme",
            "10.0.0.1",
            '{"items":3}',
        ),
        (
            "2026-01-03T23:59:59.999999Z",
            "key.created",
            "success",
            "admin:k1",
            "acme",
            None,
            '{"note":"caf\\u00e9 | x"}',
        ),
        ("2026-01-04T00:00:00.000000Z", "fetch", "failed", "système", "ümlaut", "::1", '{"status":500}'),
    ]
    for at, action, outcome, actor, partner_id, client, details in rows:
        values = ", ".join(
            "NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in (actor, partner_id, client)
        )
        at_value = f"'{at}'" if kit.kind == "sqlite" else f"'{at.removesuffix('Z')}+00'"
        kit.execute(
            "INSERT INTO partner_ingest_audit (at, action, outcome, actor, partner_id, client, details)"
            f" VALUES ({at_value}, '{action}', '{outcome}', {values}, '{details}')"
        )
    store = kit.open_store()  # migrates to the newest: 0007 computes the chain of the four rows
    try:
        assert verify(store).entries == 4 and verify(store).ok
        store.audit_log.append(entry(5))  # and new entries chain onto the backfilled ones
        verdict = verify(store)
        assert (verdict.ok, verdict.entries) == (True, 5)
        with pytest.raises(kit.append_only_error, match="append-only"):
            kit.execute("UPDATE partner_ingest_audit SET hash = 'x'")  # the guard is back after the backfill
    finally:
        store.close()


def test_concurrent_appenders_never_fork_the_chain(kit: SqlKit) -> None:
    store = kit.migrated_store()
    writers, each = 8, 25
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(each):
                if n % 2:
                    store.audit_log.append(entry(n, actor=f"writer-{writer}"))
                else:
                    with store.unit_of_work() as uow:
                        uow.audit.append_many([entry(n, actor=f"writer-{writer}"), entry(n + 100)])
                        uow.commit()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        expected = writers * (each // 2 + 2 * (each - each // 2))
        verdict = verify(store)
        assert (verdict.ok, verdict.entries) == (True, expected)
        # No two entries share a previous hash: a fork would.
        forks = kit.query(
            "SELECT previous_hash, count(*) FROM partner_ingest_audit GROUP BY previous_hash HAVING count(*) > 1"
        )
        assert forks == []
    finally:
        store.close()
