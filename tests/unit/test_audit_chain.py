"""The audit chain's rules (ADR 0028) on the in-memory store: what verification finds and names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs

from partner_ingest.adapters_out.memory import InMemoryStore
from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.audit_chain import AuditLink, content_of, link_hash, time_text, verify_links
from partner_ingest.domain.use_cases.verify_audit import VerifyAuditChain


def trail(count: int) -> InMemoryStore:
    store = InMemoryStore()
    store.audit_log.append_many(
        [
            AuditEntry(
                datetime(2026, 1, 1, tzinfo=UTC),
                AuditAction.FETCH,
                Outcome.SUCCESS,
                "system",
                details={"n": n},
            )
            for n in range(count)
        ]
    )
    return store


def test_an_edited_entry_is_named_by_id() -> None:
    store = trail(5)
    store.tables.audit[2] = attrs.evolve(store.tables.audit[2], details={"n": 99})
    verdict = VerifyAuditChain(store.audit_log)()
    assert verdict.first_break is not None
    assert (verdict.first_break.entry_id, verdict.entries) == (3, 2)
    assert verdict.first_break.problem.startswith("content altered")


def test_a_removed_entry_is_named_at_the_next_one() -> None:
    store = trail(5)
    del store.tables.audit[1]
    verdict = VerifyAuditChain(store.audit_log)()
    assert verdict.first_break is not None and verdict.first_break.entry_id == 3
    assert "previous hash does not match entry 1" in verdict.first_break.problem


def test_fields_are_length_prefixed_so_separators_in_values_cannot_collide() -> None:
    at = time_text(datetime(2026, 1, 1, tzinfo=UTC))
    one = content_of(at, "a", "b", "x|1:y", None, None, "{}")
    other = content_of(at, "a", "b", "x", "y", None, "{}")
    assert one != other
    assert content_of(at, "a", "b", "x", None, None, "{}") != content_of(at, "a", "b", "x", "", None, "{}")


def test_an_unchained_entry_is_a_break() -> None:
    at = time_text(datetime(2026, 1, 1, tzinfo=UTC))
    content = content_of(at, "a", "b", "c", None, None, "{}")
    good = AuditLink(1, "0" * 64, link_hash("0" * 64, content), content)
    verdict = verify_links([good, AuditLink(2, None, None, content)])
    assert verdict.first_break is not None and verdict.first_break.entry_id == 2
    assert verdict.first_break.problem.startswith("not chained")


def test_the_time_is_covered_as_fixed_width_utc_text_with_microseconds() -> None:
    # The SQLite store keeps exactly this text, and hashes it as stored.
    moment = datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert time_text(moment) == "2026-01-01T10:00:00.000005Z"
