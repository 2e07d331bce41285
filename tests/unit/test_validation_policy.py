"""The validation policy of ADR 0005, on the in-memory store: strict and lenient, atomic and
per item, the error budget; caps are feed-level errors; a policy override needs the partner's
permission."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import (
    ErrorCode,
    FeedLimits,
    FeedStatus,
    IngestCounts,
    Partner,
    ValidationPolicy,
)
from partner_ingest.domain.model.errors import PolicyOverrideDenied
from partner_ingest.domain.model.policy import Mode, PolicyOverrides
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

FORMATS = load_formats(entry_points=False)
GOOD = '{"sku": "G-%d", "name": "Good", "price": 1.5, "currency": "EUR", "quantity": 1}'
BAD = '{"sku": "B-%d", "name": "Bad", "price": -1, "currency": "EUR", "quantity": 1}'


def feed(*items: str) -> bytes:
    return ('{"products": [' + ", ".join(item % n for n, item in enumerate(items)) + "]}").encode()


def run(
    body: bytes,
    policy: ValidationPolicy | None = None,
    *,
    requested: ValidationPolicy | None = None,
    allow_override: bool = False,
    limits: FeedLimits | None = None,
) -> tuple[IngestReport, InMemoryStore]:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(
            Partner(
                id="acme",
                name="Acme",
                created_at=clock.now(),
                policy=policy or ValidationPolicy(),
                allow_policy_override=allow_override,
            )
        )
        uow.commit()
    ingest = IngestFeed(store.unit_of_work, FORMATS, clock, SequentialIds(), limits=limits)
    return ingest(
        FeedSubmission(
            partner_id="acme", body=io.BytesIO(body), format="json", overrides=PolicyOverrides.of(requested)
        )
    ), store


def stored(store: InMemoryStore) -> int:
    with store.unit_of_work() as uow:
        return uow.products.count("acme")


def test_per_item_lands_the_valid_items_and_reports_every_invalid_one() -> None:
    report, store = run(feed(GOOD, BAD, GOOD))
    assert report.status is FeedStatus.PARTIAL
    assert report.counts == IngestCounts(received=3, created=2, rejected=1)
    assert [(e.index, e.field, e.code) for e in report.errors] == [(1, "price", ErrorCode.RANGE)]
    assert stored(store) == 2


def test_atomic_rejects_the_whole_feed_for_one_invalid_item() -> None:
    report, store = run(feed(GOOD, BAD, GOOD), ValidationPolicy(atomic=True))
    assert report.status is FeedStatus.REJECTED
    assert report.feed_error is not None and report.feed_error.code is ErrorCode.ATOMIC_REJECTED
    assert report.counts == IngestCounts(received=3, rejected=1)
    assert stored(store) == 0


def test_the_error_budget_rejects_a_feed_with_too_large_a_share_of_invalid_items() -> None:
    within, _ = run(feed(GOOD, BAD, GOOD), ValidationPolicy(max_error_ratio=0.5))
    over, store = run(feed(GOOD, BAD, BAD), ValidationPolicy(max_error_ratio=0.5))
    assert within.status is FeedStatus.PARTIAL
    assert over.status is FeedStatus.REJECTED
    assert over.feed_error is not None and over.feed_error.code is ErrorCode.ERROR_BUDGET
    assert stored(store) == 0


def test_strict_refuses_text_for_a_number_and_unknown_fields_lenient_coerces_and_keeps_them() -> None:
    item = (
        '{"sku": "S-%d", "name": "Mug", "price": "12.50", "currency": "EUR", "quantity": 1, "colour": "red"}'
    )
    strict, _ = run(feed(item))
    lenient, store = run(feed(item), ValidationPolicy(mode=Mode.LENIENT))
    assert {(e.field, e.code) for e in strict.errors} == {
        ("price", ErrorCode.TYPE),
        ("colour", ErrorCode.UNKNOWN_FIELD),
    }
    assert lenient.status is FeedStatus.ACCEPTED
    with store.unit_of_work() as uow:
        product = uow.products.get("acme", "S-0")
    assert product is not None
    assert (product.price, dict(product.extra)) == (Decimal("12.50"), {"colour": "red"})


def test_a_cap_is_a_feed_level_error_not_an_item_error() -> None:
    report, store = run(feed(GOOD, GOOD, GOOD), limits=FeedLimits(max_items=2))
    assert report.status is FeedStatus.REJECTED
    assert report.feed_error is not None and report.feed_error.code is ErrorCode.TOO_MANY_ITEMS
    assert report.errors == ()
    assert stored(store) == 0


def test_a_partner_chooses_its_policy_per_request_only_when_allowed() -> None:
    lenient = ValidationPolicy(mode=Mode.LENIENT)
    with pytest.raises(PolicyOverrideDenied):
        run(feed(GOOD), requested=lenient)
    allowed, _ = run(feed('{"sku": "A-%d", "name": "x", "price": "1", "currency": "EUR", "quantity": 1}'),
                     requested=lenient, allow_override=True)  # fmt: skip
    assert allowed.status is FeedStatus.ACCEPTED


@given(
    st.integers(min_value=0, max_value=400), st.sampled_from([-1, 0, 1]), st.booleans(), st.integers(1, 80)
)
def test_an_integer_is_too_long_exactly_when_its_text_with_the_sign_is(
    digits: int, nudge: int, negative: bool, cap: int
) -> None:
    """As the standard library's decoder counts while parsing (the 40-digit boundary included)."""
    value = max(10**digits + nudge, 0) * (-1 if negative else 1)
    assert FeedLimits(max_number_chars=cap).integer_too_long(value) == (len(str(value)) > cap)
