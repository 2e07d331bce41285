"""Contract versions' lifecycle (ADR 0035): deprecation headers in the RFCs' syntax, the sunset as
the moment a version is refused, the settings that configure it, and the diff between versions."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from partner_ingest.adapters_in.bootstrap import Application, in_memory
from partner_ingest.adapters_in.settings import Settings, SettingsError, contract_lifecycle
from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.contract_diff import contract_diff
from partner_ingest.domain.model.errors import UnknownVersionError
from partner_ingest.domain.model.lifecycle import (
    ContractLifecycle,
    ContractVersionRetired,
    VersionLifecycle,
    VersionStatus,
)
from partner_ingest.domain.model.rules import CONTRACTS
from partner_ingest.domain.use_cases import FeedSubmission

SUNSET = datetime(2026, 6, 30, tzinfo=UTC)
FEED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'


def test_a_deprecated_version_carries_rfc_9745_and_rfc_8594_headers_until_its_sunset() -> None:
    entry = VersionLifecycle(
        1, VersionStatus.DEPRECATED, sunset=SUNSET, deprecated_at=datetime(2026, 1, 15, tzinfo=UTC)
    )
    before = SUNSET - timedelta(seconds=1)
    assert entry.headers(before) == {"Deprecation": "@1768435200", "Sunset": "Tue, 30 Jun 2026 00:00:00 GMT"}
    assert entry.status_at(before) is VersionStatus.DEPRECATED
    assert entry.status_at(SUNSET) is VersionStatus.RETIRED
    assert entry.headers(SUNSET) == {}
    warning = entry.warning(before, [1, 2])
    assert warning is not None and "deprecated" in warning and "move to version 2" in warning
    assert VersionLifecycle(2, VersionStatus.CURRENT).headers(before) == {}


def test_a_feeds_answer_headers_read_the_clock_only_for_a_version_with_a_sunset() -> None:
    deprecated = VersionLifecycle(
        1, VersionStatus.DEPRECATED, sunset=SUNSET, deprecated_at=datetime(2026, 1, 15, tzinfo=UTC)
    )
    lifecycle = ContractLifecycle.of([deprecated, VersionLifecycle(3, VersionStatus.CURRENT)])
    read: list[datetime] = []

    def now() -> datetime:
        read.append(SUNSET - timedelta(seconds=1))
        return read[-1]

    assert lifecycle.headers(2, now) == {}  # not configured: current
    assert lifecycle.headers(3, now) == {}  # configured current, no sunset
    assert read == []
    assert lifecycle.headers(1, now) == deprecated.headers(SUNSET - timedelta(seconds=1))
    assert lifecycle.headers(1, now) != {}
    assert len(read) == 2


def test_a_retired_version_is_refused_naming_the_supported_ones() -> None:
    lifecycle = ContractLifecycle.of([VersionLifecycle(1, VersionStatus.DEPRECATED, sunset=SUNSET)])
    assert lifecycle.check(1, CONTRACTS, SUNSET - timedelta(days=1)).status is VersionStatus.DEPRECATED
    with pytest.raises(ContractVersionRetired) as refused:
        lifecycle.check(1, CONTRACTS, SUNSET)
    assert refused.value.code == "contract_version_retired"
    assert refused.value.details == {"version": 1, "sunset": SUNSET.isoformat(), "supported_versions": [2]}
    assert lifecycle.check(2, CONTRACTS, SUNSET).status is VersionStatus.CURRENT


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "must be a JSON object"),
        ('["1"]', "must be a JSON object"),
        ('{"7": {"status": "retired"}}', "'7' is not a contract version"),
        ('{"1": {"status": "deprecated"}}', "needs a sunset date"),
        ('{"1": {"status": "gone"}}', "status: current, deprecated or retired"),
        ('{"1": {"status": "deprecated", "sunset": "soon"}}', "dates as 2026-06-30"),
        ('{"1": {"status": "retired", "when": "now"}}', "takes an object of status, sunset, deprecated_at"),
    ],
)
def test_a_lifecycle_setting_that_cannot_work_is_refused_naming_the_variable(text: str, says: str) -> None:
    with pytest.raises(SettingsError, match="PARTNER_INGEST_CONTRACT_LIFECYCLE") as refused:
        Settings.from_env({"PARTNER_INGEST_CONTRACT_LIFECYCLE": text})
    assert says in str(refused.value)


def test_the_setting_reads_dates_as_utc_midnight() -> None:
    settings = Settings(contract_lifecycle='{"1": {"status": "deprecated", "sunset": "2026-06-30"}}')
    assert contract_lifecycle(settings).of_version(1).sunset == SUNSET
    assert contract_lifecycle(Settings()).of_version(1).status is VersionStatus.CURRENT


def test_the_diff_from_1_to_2_lists_the_added_fields_and_back_the_removed_ones() -> None:
    forward = contract_diff(CONTRACTS[1], CONTRACTS[2])
    added = [f["field"] for f in forward["fields"]["added"]]
    assert {"brand", "manufacturer", "dimensions", "sale_price"} <= set(added)
    assert all(not f["required"] for f in forward["fields"]["added"])
    assert forward["fields"]["removed"] == []
    back = contract_diff(CONTRACTS[2], CONTRACTS[1])
    assert [f["field"] for f in back["fields"]["removed"]] == sorted(added)
    same = contract_diff(CONTRACTS[2], CONTRACTS[2])
    assert same["fields"] == {"added": [], "removed": [], "changed": []}
    assert same["rules"] == {"added": [], "removed": []}


def test_a_changed_rule_is_reported_keyword_by_keyword() -> None:
    import attrs

    v2 = CONTRACTS[2]
    fields = tuple(attrs.evolve(f, max_length=64) if f.name == "name" else f for f in v2.fields)
    tighter = attrs.evolve(v2, fields=fields)
    changed = contract_diff(v2, tighter)["fields"]["changed"]
    assert [(c["field"], c["keyword"]) for c in changed] == [("name", "maxLength")]
    assert changed[0]["to"] == 64


def test_describe_contract_refuses_an_unknown_version_in_a_diff() -> None:
    app, _, _ = in_memory()
    with pytest.raises(UnknownVersionError):
        app.describe_contract.diff(1, 9)


def _app(lifecycle: str) -> tuple[Application, FakeClock]:
    app, store, clock = in_memory(settings=Settings(contract_lifecycle=lifecycle))
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    return app, clock


def test_an_ingest_under_a_deprecated_version_warns_and_after_the_sunset_is_refused() -> None:
    app, clock = _app('{"1": {"status": "deprecated", "sunset": "2026-01-02"}}')
    report = app.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), format="json", version=1))
    assert report.status.value == "accepted"
    assert len(report.warnings) == 1 and "deprecated" in report.warnings[0]
    assert report.to_json()["warnings"] == list(report.warnings)
    assert (
        app.ingest(
            FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), format="json", version=2)
        ).warnings
        == ()
    )
    clock.advance(2 * 86400)
    with pytest.raises(ContractVersionRetired):
        app.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(FEED + b" "), format="json", version=1))
    with pytest.raises(ContractVersionRetired):
        app.submit_job(
            FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), format="json", version=1),
            body_bytes=len(FEED),
            content_hash=hashlib.sha256(FEED).hexdigest(),
        )


def test_the_admin_usage_says_who_still_sends_each_version() -> None:
    app, clock = _app('{"1": {"status": "deprecated", "sunset": "2027-01-01"}}')
    for body in (FEED, FEED.replace(b"Mug", b"Cup")):
        app.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="json", version=1))
        clock.advance(1)
    usage = {v["version"]: v for v in app.contract_usage()}
    assert usage[1]["status"] == "deprecated" and usage[1]["imports"] == 2
    assert usage[1]["partners"][0]["partner_id"] == "acme"
    assert usage[2] == {"version": 2, "status": "current", "sunset": None, "partners": [], "imports": 0}
    assert app.contract_usage(clock.now() + timedelta(seconds=1))[0]["imports"] == 0
