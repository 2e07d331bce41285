"""Feed versions (ADR 0011): the request's version, else the partner's default, else 1; a v2
field in a v1 feed is unknown (strict) or kept in `extra` (lenient) for forward compatibility."""

from __future__ import annotations

import io

import pytest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import ErrorCode, FeedStatus, Partner, UnknownVersionError, ValidationPolicy
from partner_ingest.domain.model.contract_versions import NEWEST, VERSIONS
from partner_ingest.domain.model.policy import Mode
from partner_ingest.domain.model.rules import CONTRACTS
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

BRANDED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3, "brand": "Acme"}]}'


def ingest_for(*partners: Partner) -> tuple[IngestFeed, InMemoryStore]:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        for partner in partners:
            uow.partners.add(partner)
        uow.commit()
    return IngestFeed(store.unit_of_work, load_formats(entry_points=False), clock, SequentialIds()), store


def partner(pid: str, *, default_version: int = 1, policy: ValidationPolicy | None = None) -> Partner:
    return Partner(
        id=pid,
        name=pid,
        created_at=FakeClock().now(),
        default_version=default_version,
        policy=policy or ValidationPolicy(),
    )


def test_without_a_version_a_partner_gets_its_default_and_a_new_partner_gets_1() -> None:
    ingest, _ = ingest_for(partner("old"), partner("new", default_version=2))
    old = ingest(FeedSubmission(partner_id="old", body=io.BytesIO(BRANDED), format="json"))
    new = ingest(FeedSubmission(partner_id="new", body=io.BytesIO(BRANDED), format="json"))
    assert (old.version, new.version) == (1, 2)
    assert [(e.field, e.code) for e in old.errors] == [("brand", ErrorCode.UNKNOWN_FIELD)]
    assert new.status is FeedStatus.ACCEPTED


def test_the_version_of_the_request_wins_over_the_partner_default() -> None:
    ingest, _ = ingest_for(partner("old"))
    report = ingest(FeedSubmission(partner_id="old", body=io.BytesIO(BRANDED), format="json", version=2))
    assert (report.version, report.status) == (2, FeedStatus.ACCEPTED)


def test_a_lenient_v1_partner_keeps_a_field_of_a_later_version_in_extra() -> None:
    ingest, store = ingest_for(partner("old", policy=ValidationPolicy(mode=Mode.LENIENT)))
    report = ingest(FeedSubmission(partner_id="old", body=io.BytesIO(BRANDED), format="json"))
    assert (report.version, report.status) == (1, FeedStatus.ACCEPTED)
    with store.unit_of_work() as uow:
        product = uow.products.get("old", "A-1")
    assert product is not None
    assert (product.brand, dict(product.extra)) == (None, {"brand": "Acme"})


def test_a_version_nobody_registered_is_refused_with_the_versions_there_are() -> None:
    ingest, _ = ingest_for(partner("old"))
    with pytest.raises(UnknownVersionError, match="no version 3; available: 1, 2"):
        ingest(FeedSubmission(partner_id="old", body=io.BytesIO(BRANDED), format="json", version=3))


def test_the_version_numbers_the_command_line_reads_are_those_the_rules_define() -> None:
    assert tuple(sorted(CONTRACTS)) == VERSIONS
    assert max(CONTRACTS) == NEWEST
