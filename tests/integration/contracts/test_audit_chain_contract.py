"""The audit chain, held to one contract on memory, SQLite and PostgreSQL (ADR 0028).

Every store chains what it appends, inside or outside a unit of work, and returns
links whose recomputed content matches what was appended; rolled-back entries
leave no gap. Tampering is store-specific: tests/integration/sql/test_audit_chain.py
(raw SQL) and tests/unit/test_audit_chain.py (the in-memory list).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.stores import StoreUnderTest

from partner_ingest.domain.model import AuditAction, AuditEntry, AuditQuery, Outcome
from partner_ingest.domain.model.audit_chain import GENESIS, content_of_entry, link_hash
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain

T0 = datetime(2026, 3, 1, 8, 30, 0, 250000, tzinfo=UTC)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        T0 + timedelta(minutes=n),
        AuditAction.FEED_INGESTED if n % 2 else AuditAction.KEY_CREATED,
        Outcome.SUCCESS,
        "acme" if n % 3 else "admin:k1",
        partner_id="acme",
        client=None if n % 2 else "192.0.2.1",
        details={"n": n, "text": "naïve | 'quoted'"},
    )


def test_every_store_chains_its_entries_in_order_from_genesis(store: StoreUnderTest) -> None:
    store.audit_log.append(entry(1))
    with store.unit_of_work() as uow:
        uow.audit.append_many([entry(2), entry(3)])
        uow.commit()
    with store.unit_of_work() as uow:
        uow.audit.append(entry(99))  # rolled back
    store.audit_log.append_many([entry(4)])

    links = store.audit_log.links(0, 100)
    assert [link.content for link in links] == [content_of_entry(entry(n)) for n in (1, 2, 3, 4)]
    previous = GENESIS
    for link in links:
        assert link.previous_hash == previous
        assert link.hash == link_hash(previous, link.content)
        previous = link.hash
    # The stored entries carry their link too, and paging by id reads the rest of the chain.
    newest = store.audit_log.query(AuditQuery(limit=1))[0]
    assert (newest.id, newest.hash) == (links[-1].entry_id, links[-1].hash)
    assert [link.entry_id for link in store.audit_log.links(links[1].entry_id, 100)] == [
        link.entry_id for link in links[2:]
    ]


def test_verification_counts_every_entry_of_a_long_trail(store: StoreUnderTest) -> None:
    for start in range(0, 50, 10):
        with store.unit_of_work() as uow:
            uow.audit.append_many([entry(n) for n in range(start, start + 10)])
            uow.commit()
    verdict = VerifyAuditChain(store.audit_log, batch=7)()
    assert (verdict.ok, verdict.entries, verdict.first_break) == (True, 50, None)
    assert verdict.last_hash == store.audit_log.query(AuditQuery(limit=1))[0].hash


def test_an_empty_trail_verifies(store: StoreUnderTest) -> None:
    verdict = VerifyAuditChain(store.audit_log)()
    assert (verdict.ok, verdict.entries, verdict.last_id) == (True, 0, None)
