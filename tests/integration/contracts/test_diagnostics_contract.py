"""Diagnostics on every store (memory, SQLite, PostgreSQL): every rejected item kept with its
feed, paged, summarized, resolved by the import that fixes it, purged after retention.

Through `IngestFeed`, so what is held is the whole path: the pipeline spools each
rejection, the diagnostics step writes them in the feed's unit of work.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.adapters_out.spool import FileRejectionSpools
from partner_ingest.domain.model import (
    FeedStatus,
    IngestReport,
    NotFoundError,
    Partner,
    PolicyOverrides,
    Product,
    ValidationPolicy,
    jsontext,
)
from partner_ingest.domain.model.diagnostics import MAX_RAW_CHARS, MAX_VALUE_CHARS, Diagnostic, Rejection
from partner_ingest.domain.model.policy import Mode
from partner_ingest.domain.model.report import ErrorCode, ItemError, Location
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.diagnostics import PurgeDiagnostics, ReadDiagnostics
from partner_ingest.plugins import load_formats

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FORMATS = load_formats(entry_points=False)


def good(n: int) -> dict[str, Any]:
    return {
        "sku": f"SKU-{n:05d}",
        "name": f"Item {n}",
        "price": Decimal("10.50"),
        "currency": "EUR",
        "quantity": 1,
    }


def bad_price(n: int) -> dict[str, Any]:
    return {**good(n), "price": '=HYPERLINK("http://x")'}


def no_name(n: int) -> dict[str, Any]:
    item = good(n)
    del item["name"]
    return item


class Setup:
    def __init__(
        self, store: StoreUnderTest, *, file_spool: bool = False, policy: ValidationPolicy | None = None
    ):
        self.store = store
        self.clock = FakeClock(T0)
        with store.unit_of_work() as uow:
            uow.partners.add(
                Partner(
                    id="acme",
                    name="Acme",
                    created_at=T0,
                    policy=policy or ValidationPolicy(mode=Mode.LENIENT, max_error_ratio=1.0),
                    allow_policy_override=True,
                )
            )
            uow.partners.add(Partner(id="other", name="Other", created_at=T0))
            uow.commit()
        self.ingest = IngestFeed(
            store.unit_of_work,
            FORMATS,
            self.clock,
            SequentialIds(),
            batch_size=100,
            errors_cap=100,
            spools=FileRejectionSpools(max_memory=4096) if file_spool else None,
        )
        self.read = ReadDiagnostics(store.unit_of_work)

    def send(self, items: list[dict[str, Any]], **overrides: Any) -> IngestReport:
        body = jsontext.dumps({"products": items}).encode()
        return self.ingest(
            FeedSubmission(
                partner_id="acme",
                body=io.BytesIO(body),
                format="json",
                version=1,
                overrides=PolicyOverrides(**overrides),
            )
        )


@pytest.mark.parametrize("file_spool", [False, True], ids=["memory-spool", "file-spool"])
def test_every_rejected_item_is_kept_not_only_the_reports_first_hundred(
    store: StoreUnderTest, file_spool: bool
) -> None:
    s = Setup(store, file_spool=file_spool)
    items = [good(n) if n % 4 == 0 else bad_price(n) for n in range(400)]
    report = s.send(items)
    assert report.status is FeedStatus.PARTIAL
    assert len(report.errors) == 100 and report.errors_total == 300
    kept: list[Diagnostic] = list(s.read.all("acme", report.feed_id, batch=70))
    assert [d.seq for d in kept] == list(range(1, 301))
    assert {d.error.index for d in kept} == {n for n in range(400) if n % 4}
    first = kept[0]
    assert first.error.code is ErrorCode.FORMAT and first.error.field == "price"
    assert first.value == '=HYPERLINK("http://x")'
    assert first.error.location is not None and first.error.location.pointer == "/products/1/price"
    assert first.raw is not None and json.loads(first.raw)["sku"] == "SKU-00001"
    assert first.import_id == report.feed_id and first.resolved_by is None


def test_a_rejected_feed_keeps_its_diagnostics_though_its_products_roll_back(store: StoreUnderTest) -> None:
    s = Setup(store)
    report = s.send([good(1), no_name(2), bad_price(3)], atomic=True)
    assert report.status is FeedStatus.REJECTED
    with store.unit_of_work(read_only=True) as uow:
        assert uow.products.get("acme", "SKU-00001") is None
    page = s.read.page("acme", report.feed_id)
    assert [(d.error.sku, d.error.code) for d in page.diagnostics] == [
        ("SKU-00002", ErrorCode.MISSING),
        ("SKU-00003", ErrorCode.FORMAT),
    ]


def test_pages_follow_the_cursor_and_filter_by_code(store: StoreUnderTest) -> None:
    s = Setup(store)
    report = s.send([no_name(n) if n % 2 else bad_price(n) for n in range(10)])
    first = s.read.page("acme", report.feed_id, limit=3)
    assert [d.seq for d in first.diagnostics] == [1, 2, 3] and first.next_after == 3
    rest = s.read.page("acme", report.feed_id, after=first.next_after, limit=100)
    assert [d.seq for d in rest.diagnostics] == list(range(4, 11)) and rest.next_after is None
    missing = s.read.page("acme", report.feed_id, code=ErrorCode.MISSING)
    assert len(missing.diagnostics) == 5 and all(
        d.error.code is ErrorCode.MISSING for d in missing.diagnostics
    )


def test_the_summary_groups_by_code_most_frequent_first_with_a_few_examples(store: StoreUnderTest) -> None:
    s = Setup(store)
    report = s.send([no_name(n) for n in range(7)] + [bad_price(n) for n in range(7, 9)])
    summary = s.read.summary("acme", report.feed_id, examples=2)
    assert [(c.code, c.count) for c in summary] == [(ErrorCode.MISSING, 7), (ErrorCode.FORMAT, 2)]
    assert [d.error.index for d in summary[0].examples] == [0, 1]


def test_another_partners_import_answers_as_unknown(store: StoreUnderTest) -> None:
    s = Setup(store)
    report = s.send([no_name(1)])
    with pytest.raises(NotFoundError):
        s.read.page("other", report.feed_id)
    with pytest.raises(NotFoundError):
        s.read.summary("other", report.feed_id)
    assert len(s.read.page(None, report.feed_id).diagnostics) == 1  # an admin sees every import


def test_resending_only_the_fixed_items_resolves_their_diagnostics(store: StoreUnderTest) -> None:
    s = Setup(store)
    first = s.send([good(0), no_name(1), bad_price(2), bad_price(3)])
    with store.unit_of_work(read_only=True) as uow:
        assert uow.diagnostics.open_items() == {"acme": 3}
    s.clock.advance(300)
    fix = s.send([good(1), good(2)])  # only the fixed items, as a partner resends them
    assert fix.status is FeedStatus.ACCEPTED
    kept = s.read.page("acme", first.feed_id).diagnostics
    assert [(d.error.sku, d.resolved_by) for d in kept] == [
        ("SKU-00001", fix.feed_id),
        ("SKU-00002", fix.feed_id),
        ("SKU-00003", None),
    ]
    with store.unit_of_work(read_only=True) as uow:
        assert uow.diagnostics.open_items() == {"acme": 1}
    status = s.read.sku_status("acme", "SKU-00002")
    assert status.accepted is not None and status.accepted_import == fix.feed_id
    assert status.rejected_import == first.feed_id and status.rejected[0].error.code is ErrorCode.FORMAT
    still = s.read.sku_status("acme", "SKU-00003")
    assert still.accepted is None and still.rejected[0].value is not None


def test_a_fix_in_a_feed_that_is_rejected_resolves_nothing(store: StoreUnderTest) -> None:
    s = Setup(store)
    first = s.send([good(0), no_name(1)])
    s.send([good(1), no_name(5)], atomic=True)  # rejected as a whole: SKU-00001 did not land
    assert s.read.page("acme", first.feed_id).diagnostics[0].resolved_by is None


def test_the_sku_status_names_the_latest_rejection_and_unknown_skus_are_not_found(
    store: StoreUnderTest,
) -> None:
    s = Setup(store)
    s.send([no_name(1)])
    later = s.send([bad_price(1)])
    status = s.read.sku_status("acme", "SKU-00001")
    assert status.rejected_import == later.feed_id and [d.error.code for d in status.rejected] == [
        ErrorCode.FORMAT
    ]
    with pytest.raises(NotFoundError):
        s.read.sku_status("acme", "NOPE")
    with pytest.raises(NotFoundError):
        s.read.sku_status("other", "SKU-00001")


def test_values_and_raw_items_are_bounded(store: StoreUnderTest) -> None:
    s = Setup(store)
    huge = {**good(1), "price": "9" * 5000, "description": "x" * (MAX_RAW_CHARS * 2)}
    report = s.send([huge])
    kept = s.read.page("acme", report.feed_id).diagnostics
    price = next(d for d in kept if d.error.field == "price")
    assert price.value is not None and len(price.value) == MAX_VALUE_CHARS and price.value.endswith("…")
    assert price.raw is not None and len(price.raw) == MAX_RAW_CHARS and price.raw_truncated


def test_the_purge_deletes_only_what_is_past_the_retention(store: StoreUnderTest) -> None:
    s = Setup(store)
    old = s.send([no_name(1), no_name(2)])
    s.clock.advance(10 * 86400)
    new = s.send([no_name(3)])
    purged = PurgeDiagnostics(store.unit_of_work, s.clock, retention_days=5, batch=1)()
    assert purged == 2
    assert s.read.page("acme", old.feed_id).diagnostics == ()
    assert len(s.read.page("acme", new.feed_id).diagnostics) == 1


def test_a_repeat_and_a_dry_run_keep_nothing_more(store: StoreUnderTest) -> None:
    s = Setup(store)
    items = [good(0), no_name(1)]
    first = s.send(items)
    again = s.send(items)
    assert again.feed_id == first.feed_id
    dry = s.ingest(
        FeedSubmission(
            partner_id="acme",
            body=io.BytesIO(b'{"products": [{"sku": "X"}]}'),
            format="json",
            version=1,
            dry_run=True,
        )
    )
    assert dry.errors_total > 0
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.diagnostics.page(first.feed_id)) == 1
        assert uow.diagnostics.page(dry.feed_id) == []


def test_the_store_refuses_a_seq_kept_twice_and_keeps_hostile_text(store: StoreUnderTest) -> None:
    from partner_ingest.domain.model import ConflictError

    error = ItemError(0, "S\x00KU", "name", ErrorCode.MISSING, "nul \x00 here", Location(pointer="/0"))
    d = Diagnostic.of("feed-x", "acme", 1, Rejection(error, "v\x00", '{"a": "\\ud800"}'), T0)
    with store.unit_of_work() as uow:
        uow.diagnostics.add([d])
        with pytest.raises(ConflictError):
            uow.diagnostics.add([d])
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        (back,) = uow.diagnostics.page("feed-x")
    assert (
        back.seq == 1
        and back.error.location == Location(pointer="/0")
        and back.error.message.startswith("nul")
    )


def test_an_admin_replays_the_open_rejected_items_under_the_contract_as_it_is_now(
    store: StoreUnderTest,
) -> None:
    from partner_ingest.domain.model import AuditAction, AuditQuery
    from partner_ingest.domain.use_cases.replay import NothingToReplay, ReplayImport

    s = Setup(store, policy=ValidationPolicy(mode=Mode.STRICT, max_error_ratio=1.0))
    branded = [{**good(n), "price": Decimal("10.5"), "brand": "Acme"} for n in (1, 2, 3)]
    first = s.send([good(0), *branded, no_name(4)])  # v1 knows no brand: unknown_field, strict
    assert first.counts.rejected == 4
    s.send([{**good(2), "price": Decimal("9.99")}])  # the partner fixed SKU-00002 itself meanwhile
    replay = ReplayImport(store.unit_of_work, s.ingest, s.clock)

    result = replay(first.feed_id, actor="admin:key1", client="192.0.2.1", version=2)

    assert (result.replayed, result.skipped_resolved, result.skipped_truncated) == (3, 1, 0)
    assert result.report.status is FeedStatus.PARTIAL and result.report.version == 2
    assert result.report.counts.created == 2 and result.report.counts.rejected == 1
    with store.unit_of_work(read_only=True) as uow:
        kept = present_product(uow.products.get("acme", "SKU-00001"))
        fixed = present_product(uow.products.get("acme", "SKU-00002"))
    assert kept.brand == "Acme" and kept.price == Decimal("10.5")  # a number came back a number, strict still
    assert str(fixed.price) == "9.99"  # the partner's own fix was not overwritten
    resolution = {d.error.sku: d.resolved_by for d in s.read.page("acme", first.feed_id).diagnostics}
    assert resolution["SKU-00001"] == resolution["SKU-00003"] == result.report.feed_id
    assert resolution["SKU-00004"] is None
    audited = store.audit_log.query(AuditQuery(action=AuditAction.IMPORT_REPLAYED))
    assert len(audited) == 1 and audited[0].actor == "admin:key1"
    assert audited[0].details["feed_id"] == first.feed_id and audited[0].details["replayed"] == 3

    s.send([good(4)])
    with pytest.raises(NothingToReplay):
        replay(first.feed_id, actor="admin:key1")
    with pytest.raises(NotFoundError):
        replay("no-such-import", actor="admin:key1")


def test_a_replayed_csv_item_is_read_as_text_as_the_csv_was(store: StoreUnderTest) -> None:
    from partner_ingest.domain.use_cases.replay import ReplayImport

    s = Setup(store, policy=ValidationPolicy(mode=Mode.STRICT, max_error_ratio=1.0))
    csv_body = b"sku,name,price,currency,quantity,brand\nC-1,Chair,12.50,EUR,3,Acme\nC-2,Desk,99.00,EUR,1,\n"
    first = s.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(csv_body), format="csv", version=1))
    assert first.counts.rejected >= 1
    result = ReplayImport(store.unit_of_work, s.ingest, s.clock)(first.feed_id, actor="admin", version=2)
    assert result.report.format == "csv" and result.report.counts.rejected == 0
    with store.unit_of_work(read_only=True) as uow:
        assert str(present_product(uow.products.get("acme", "C-1")).price) == "12.50"


def present_product(product: Product | None) -> Product:
    assert product is not None
    return product


def test_a_schedule_keeps_how_its_last_run_went(store: StoreUnderTest) -> None:
    import attrs

    from partner_ingest.domain.model import Schedule

    Setup(store)
    schedule = Schedule(id="s1", partner_id="acme", next_run_at=T0, interval_seconds=3600)
    ran = attrs.evolve(
        schedule,
        last_run_at=T0,
        last_outcome="http_error",
        last_error="the feed answered 500 \x00",
        last_job_id=None,
    )
    with store.unit_of_work() as uow:
        uow.schedules.add(schedule)
        uow.schedules.update(ran)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        back = uow.schedules.get("s1")
    assert back is not None and back.last_outcome == "http_error" and back.last_job_id is None
    assert back.last_error is not None and back.last_error.startswith("the feed answered 500")


def test_a_running_job_records_how_far_its_feed_was_read_and_a_new_claim_starts_again(
    store: StoreUnderTest,
) -> None:
    from datetime import timedelta

    from partner_ingest.domain.model import Job, JobStatus, Lease

    Setup(store)
    body = b'{"products": []}'
    job = Job(
        id="job-1",
        partner_id="acme",
        format="json",
        version=1,
        status=JobStatus.QUEUED,
        created_at=T0,
        available_at=T0,
        content_hash="h",
        body_bytes=len(body),
    )
    with store.unit_of_work() as uow:
        uow.jobs.add(job, io.BytesIO(body))
        claimed = uow.jobs.claim(T0, timedelta(seconds=60), "token-1")
        assert claimed is not None and (claimed.items_read, claimed.bytes_read) == (0, 0)
        lease = Lease("job-1", "token-1", T0 + timedelta(seconds=60))
        assert uow.jobs.record_progress(lease, 1500, 1 << 20)
        assert not uow.jobs.record_progress(Lease("job-1", "someone-else", T0), 1, 1)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        running = uow.jobs.get("job-1")
    assert running is not None and (running.items_read, running.bytes_read) == (1500, 1 << 20)
    with store.unit_of_work() as uow:  # the lease expired: another worker starts it again, from 0
        again = uow.jobs.claim(T0 + timedelta(seconds=61), timedelta(seconds=60), "token-2")
        uow.commit()
    assert again is not None and (again.items_read, again.bytes_read) == (0, 0)


def test_a_job_processed_with_its_progress_counts_every_item_and_byte_and_the_heartbeat_records_it(
    store: StoreUnderTest,
) -> None:
    from partner_ingest.domain.use_cases import SubmitFeedJob
    from partner_ingest.domain.use_cases.jobs import JobProgress, ProcessNextJob

    s = Setup(store)
    body = jsontext.dumps({"products": [good(n) for n in range(250)]}).encode()
    submit = SubmitFeedJob(store.unit_of_work, FORMATS, s.clock, SequentialIds())
    submit(
        FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="json", version=1),
        body_bytes=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
    )
    process = ProcessNextJob(store.unit_of_work, s.ingest, s.clock, SequentialIds())
    claimed = process.claim()
    assert claimed is not None
    job, lease = claimed
    progress = JobProgress()
    progress.items, progress.bytes = 100, 4096  # as far as a heartbeat saw it mid-feed
    assert process.renew(lease, progress)
    with store.unit_of_work(read_only=True) as uow:
        seen = uow.jobs.get(job.id)
    assert seen is not None and (seen.items_read, seen.bytes_read) == (100, 4096)
    counted = JobProgress()
    result = process.process(job, lease, progress=counted)
    assert result.report is not None and result.report.counts.created == 250
    assert (counted.items, counted.bytes) == (250, len(body))
