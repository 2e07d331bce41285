"""The ledger's contract version usage, for every store (memory, SQLite, PostgreSQL; ADR 0035):
per version and partner, the imports completed since a moment and the latest one's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.stores import StoreUnderTest

from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.report import FeedStatus, IngestCounts, IngestReport
from partner_ingest.ports.repositories import VersionUse

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def entry(feed_id: str, partner_id: str, version: int, at: datetime) -> FeedImport:
    report = IngestReport(
        feed_id, partner_id, "json", version, FeedStatus.ACCEPTED, IngestCounts(1, 1, 0, 0, 0)
    )
    return FeedImport(
        id=feed_id,
        partner_id=partner_id,
        format="json",
        version=version,
        content_hash="c" + feed_id,
        status=ImportStatus.APPLIED,
        report=report,
        received_at=at,
        completed_at=at,
    )


def test_usage_counts_imports_per_version_and_partner_since_a_moment(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow:
        for pid in ("acme", "beta"):
            uow.partners.add(Partner(id=pid, name=pid.title(), created_at=T0))
        uow.imports.add(entry("f1", "acme", 1, T0))
        uow.imports.add(entry("f2", "acme", 1, T0 + timedelta(hours=1)))
        uow.imports.add(entry("f3", "beta", 1, T0 + timedelta(hours=2)))
        uow.imports.add(entry("f4", "acme", 2, T0 + timedelta(hours=3)))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.imports.version_usage() == [
            VersionUse(1, "acme", 2, T0 + timedelta(hours=1)),
            VersionUse(1, "beta", 1, T0 + timedelta(hours=2)),
            VersionUse(2, "acme", 1, T0 + timedelta(hours=3)),
        ]
        assert uow.imports.version_usage(T0 + timedelta(hours=1)) == [
            VersionUse(1, "acme", 1, T0 + timedelta(hours=1)),
            VersionUse(1, "beta", 1, T0 + timedelta(hours=2)),
            VersionUse(2, "acme", 1, T0 + timedelta(hours=3)),
        ]
        assert uow.imports.version_usage(T0 + timedelta(days=1)) == []
