"""The storage contract suite: every store (memory, SQLite, PostgreSQL, yours) behaves the same.

Enable it by subclassing `StorageContract` in a test module, with a `store_under_test`
fixture (conftest.py) that yields a fresh, empty store:

    class TestMyStore(StorageContract):
        pass

A store is anything with `unit_of_work` (the `UnitOfWorkFactory` port) and `audit_log`
(the `AuditLog` port): `StoreUnderTest`. Conflicts are worded in the domain's words
(`partner_ingest.adapters_out.store_errors`), as every store's are: the text reaches the
partner in a 409. This repository runs the same class over its three stores.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import attrs
import pytest

from partner_ingest.adapters_out.store_errors import EXISTS, IDEMPOTENCY_TAKEN
from partner_ingest.domain.model import (
    ApiKey,
    AuditAction,
    AuditEntry,
    AuditQuery,
    ConflictError,
    Dimensions,
    FeedFingerprint,
    FeedImport,
    FeedStatus,
    IdempotencyKeyTaken,
    ImportStatus,
    IngestCounts,
    IngestReport,
    Job,
    JobStatus,
    KeyRole,
    KeyUse,
    Lease,
    NotFoundError,
    Outcome,
    Partner,
    Product,
    Schedule,
    ValidationPolicy,
)
from partner_ingest.domain.model.changes import Change
from partner_ingest.domain.model.errors import InvalidCursor
from partner_ingest.domain.model.policy import Mode
from partner_ingest.domain.model.retirement import HeldFeed
from partner_ingest.ports import AuditLog, UnitOfWorkFactory

__all__ = ["StorageContract", "StoreUnderTest"]


class StoreUnderTest(Protocol):
    """The two entry points every store offers: units of work, and the standalone audit log."""

    @property
    def unit_of_work(self) -> UnitOfWorkFactory: ...
    @property
    def audit_log(self) -> AuditLog: ...


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def present(value: T | None) -> T:
    """The value a store returned, which the test expects to exist."""
    assert value is not None
    return value


def product(sku: str, **changes: Any) -> Product:
    base = Product(
        partner_id="acme",
        sku=sku,
        name=f"Product {sku}",
        price=Decimal("10.00"),
        currency="EUR",
        quantity=5,
        brand="Acme",
        dimensions=Dimensions(Decimal("1.5"), Decimal("2"), Decimal("3"), "cm"),
    )
    return attrs.evolve(base, **changes)


def partner(pid: str = "acme") -> Partner:
    return Partner(id=pid, name=pid.title(), created_at=T0, default_version=2)


def report(feed_id: str, partner_id: str = "acme") -> IngestReport:
    return IngestReport(feed_id, partner_id, "json", 2, FeedStatus.ACCEPTED, IngestCounts(1, 1, 0, 0, 0))


def job(job_id: str, *, at: datetime = T0, key: str | None = None, body: bytes = b"{}") -> tuple[Job, bytes]:
    return (
        Job(
            id=job_id,
            partner_id="acme",
            format="json",
            version=2,
            status=JobStatus.QUEUED,
            created_at=at,
            available_at=at,
            content_hash="h" + job_id,
            body_bytes=len(body),
            idempotency_key=key,
        ),
        body,
    )


def _import(
    feed_id: str, *, at: datetime, status: ImportStatus = ImportStatus.APPLIED, key: str | None = None
) -> FeedImport:
    return FeedImport(
        id=feed_id,
        partner_id="acme",
        format="json",
        version=2,
        content_hash="c" + feed_id,
        status=status,
        report=report(feed_id),
        received_at=at,
        completed_at=at,
        idempotency_key=key,
        fingerprint=_fingerprint("c" + feed_id),
    )


def _fingerprint(content_hash: str, **terms: Any) -> FeedFingerprint:
    values: dict[str, Any] = {
        "format": "json",
        "version": 2,
        "mode": Mode.LENIENT,
        "atomic": True,
        "max_error_ratio": 0.25,
        **terms,
    }
    return FeedFingerprint(content_hash=content_hash, **values)


def _all_changes(store: StoreUnderTest, *, partner_id: str | None = None) -> list[Change]:
    """Every change the store keeps, read a page of two at a time (cursors inside a batch's record too)."""
    out: list[Change] = []
    with store.unit_of_work(read_only=True) as uow:
        while page := uow.changes.after(out[-1].cursor if out else None, limit=2, partner_id=partner_id):
            out.extend(page)
    return out


def assert_said(error: ConflictError, expected: str) -> None:
    """Every store words a conflict alike, in the domain's words: its text reaches the partner in
    a 409, so never the database's tables and constraints (those go to the operator's log)."""
    assert str(error) == expected


class StorageContract:
    """The storage contract, over the `store_under_test` fixture (a fresh, empty store per test)."""

    @pytest.fixture
    def seeded(self, store_under_test: StoreUnderTest) -> StoreUnderTest:
        with store_under_test.unit_of_work() as uow:
            uow.partners.add(partner("acme"))
            uow.partners.add(partner("globex"))
            uow.commit()
        return store_under_test

    # --- unit of work -----------------------------------------------------------------

    def test_changes_without_commit_are_rolled_back(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()])
        with seeded.unit_of_work() as uow:
            assert uow.products.get("acme", "A") is None

    def test_an_exception_inside_rolls_everything_back(self, seeded: StoreUnderTest) -> None:
        def fail_half_way() -> None:
            with seeded.unit_of_work() as uow:
                uow.products.upsert([product("A").to_row()])
                uow.audit.append(AuditEntry(T0, AuditAction.FEED_INGESTED, Outcome.SUCCESS, "acme"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_half_way()
        with seeded.unit_of_work() as uow:
            assert uow.products.count("acme") == 0
            assert uow.audit.query(AuditQuery()) == []

    def test_read_only_units_of_work_refuse_to_commit(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.partners.get("acme") is not None
            with pytest.raises(PermissionError):
                uow.commit()

    # --- products ---------------------------------------------------------------------

    def test_upsert_counts_created_updated_and_unchanged(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            first = uow.products.upsert([product("A").to_row(), product("B").to_row()])
            uow.commit()
        assert first == (2, 0, 0)
        with seeded.unit_of_work() as uow:
            second = uow.products.upsert(
                [product("A").to_row(), product("B", price=Decimal("11.00")).to_row(), product("C").to_row()]
            )
            uow.commit()
        assert second == (1, 1, 1)
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.products.get("acme", "B")).price == Decimal("11.00")
            assert uow.products.count("acme") == 3

    def test_a_change_in_any_single_field_is_an_update(self, seeded: StoreUnderTest) -> None:
        changes: dict[str, Any] = {
            "name": "Renamed",
            "quantity": 6,
            "brand": None,
            "gtin": "4006381333931",
            "dimensions": None,
            "extra": {"color": "red"},
            "sale_price": Decimal("9.00"),
        }
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()])
            uow.commit()
        current = product("A")
        for field, value in changes.items():
            changed = attrs.evolve(current, **{field: value})
            with seeded.unit_of_work() as uow:
                assert uow.products.upsert([changed.to_row()]) == (0, 1, 0), field
                uow.commit()
            current = changed
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.products.get("acme", "A") == current

    def test_products_round_trip_exactly(self, seeded: StoreUnderTest) -> None:
        original = product(
            "Z-1",
            price=Decimal("1234.50"),
            description="line one\nline two\ttabbed",
            extra={"color": "blue", "tags": ["a", "b"], "weight": Decimal("1.25")},
            sale_price=Decimal("999.99"),
            sale_starts_at=T0,
            sale_ends_at=T0 + timedelta(days=2),
        )
        with seeded.unit_of_work() as uow:
            uow.products.upsert([original.to_row()])
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.products.get("acme", "Z-1") == original

    def test_an_upsert_records_its_import_on_the_products_it_writes(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row(), product("B").to_row()], feed_id="f1")
            uow.commit()
        with seeded.unit_of_work() as uow:
            # B changed: written by f2; A sent unchanged: still the version f1 wrote; C new.
            uow.products.upsert(
                [product("A").to_row(), product("B", quantity=9).to_row(), product("C").to_row()],
                feed_id="f2",
            )
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert {p.sku: p.feed_id for p in uow.products.page("acme")} == {"A": "f1", "B": "f2", "C": "f2"}
            assert present(uow.products.get("acme", "B")).feed_id == "f2"
            found = uow.products.search_names("acme", "product").products
            assert [p.feed_id for p in found] == ["f1", "f2", "f2"]

    def test_a_product_written_without_an_import_reads_none_and_equals_its_values(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()])
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            stored = present(uow.products.get("acme", "A"))
        assert stored.feed_id is None
        assert attrs.evolve(stored, feed_id="f9") == stored == product("A")  # provenance, not content

    def test_a_patch_records_the_import_that_patched(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()], feed_id="f1")
            uow.commit()
        with seeded.unit_of_work() as uow:
            # What a patch feed does: the stored row, merged with the patch, written back.
            stored = Product.from_row(uow.products.current("acme", ["A"])["A"])
            uow.products.upsert([attrs.evolve(stored, quantity=0).to_row()], feed_id="patch-1")
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            patched = present(uow.products.get("acme", "A"))
        assert (patched.quantity, patched.feed_id) == (0, "patch-1")

    def test_a_retirement_keeps_the_import_and_a_restore_records_its_own(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row(), product("B").to_row()], feed_id="f1")
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert uow.products.retire("acme", ["A", "B"], T0) == 2
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            # A retirement writes no values: each still shows the import that wrote them.
            assert present(uow.products.get("acme", "A", retired=True)).feed_id == "f1"
        with seeded.unit_of_work() as uow:
            # Named again, unchanged: restored, and the restoring import recorded.
            assert uow.products.upsert([product("A").to_row()], feed_id="f2") == (0, 1, 0)
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.products.get("acme", "A")).feed_id == "f2"
            assert present(uow.products.get("acme", "B", retired=True)).feed_id == "f1"

    def test_a_rolled_back_upsert_leaves_the_import_of_the_stored_version(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()], feed_id="f1")
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A", quantity=3).to_row()], feed_id="f2")
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.products.get("acme", "A")).feed_id == "f1"

    def test_products_are_paged_in_sku_order_per_partner(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("C", "A", "B")])
            uow.products.upsert([attrs.evolve(product("A"), partner_id="globex").to_row()])
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert [p.sku for p in uow.products.page("acme", limit=2)] == ["A", "B"]
            assert [p.sku for p in uow.products.page("acme", after_sku="B")] == ["C"]
            assert uow.products.count("globex") == 1

    def test_a_page_updated_since_an_instant_holds_the_products_written_at_or_after_it(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B", "C")])
            uow.commit()
        time.sleep(0.01)  # stores keep milliseconds: the instant is clearly after the first write
        since = datetime.now(UTC)
        time.sleep(0.01)
        with seeded.unit_of_work() as uow:
            uow.products.upsert(
                [product("A").to_row(), product("B", quantity=9).to_row(), product("D").to_row()]
            )
            uow.products.retire("acme", ["C"], datetime.now(UTC))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            page = uow.products.page
            assert [p.sku for p in page("acme", updated_since=since)] == ["B", "D"]  # A was unchanged
            assert [p.sku for p in page("acme", updated_since=since, after_sku="B", limit=1)] == ["D"]
            assert [p.sku for p in page("acme", updated_since=since, retired=True)] == ["C"]
            assert [p.sku for p in page("acme", updated_since=since - timedelta(hours=1))] == ["A", "B", "D"]
            assert page("acme", updated_since=datetime.now(UTC) + timedelta(hours=1)) == []

    def test_feed_sku_register_reports_repeats_across_batches_and_within_one(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            assert uow.feed_skus.repeated(["A", "B"]) == []
            assert uow.feed_skus.repeated(["C", "A", "C", "D"]) == [1, 2]
            assert uow.feed_skus.repeated([]) == []
            assert uow.feed_skus.repeated(["D", "E"]) == [0]
        with seeded.unit_of_work() as uow:  # a new unit of work is a new feed
            assert uow.feed_skus.repeated(["A"]) == []

    # --- the catalog lifecycle: retired products, snapshots, held feeds (ADR 0036) -----

    def test_retired_products_are_hidden_from_reads_and_listed_with_the_filter(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B", "C")])
            uow.products.upsert([attrs.evolve(product("B"), partner_id="globex").to_row()])
            uow.commit()
        with seeded.unit_of_work() as uow:
            # A repeated SKU, an unknown one and one retired already are not counted.
            assert uow.products.retire("acme", ["C", "B", "B", "NOPE"], T0) == 2
            assert uow.products.retire("acme", ["C"], T0) == 0
            assert uow.products.retire("acme", [], T0) == 0
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            products = uow.products
            assert products.get("acme", "B") is None
            assert products.get("acme", "B", retired=True) == product("B")  # kept whole
            assert products.get("acme", "A", retired=True) is None
            assert [p.sku for p in products.page("acme")] == ["A"]
            assert [p.sku for p in products.page("acme", retired=True)] == ["B", "C"]
            assert [p.sku for p in products.page("acme", retired=True, after_sku="B", limit=5)] == ["C"]
            assert products.count("acme") == 1
            assert list(products.current("acme", ["A", "B", "C"])) == ["A"]  # a patch finds no B
            assert products.get("globex", "B") is not None  # another partner's B is its own
            assert [p.sku for p in products.search_names("acme", "product").products] == ["A"]

    def test_an_upsert_of_a_retired_product_restores_it_even_unchanged(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B")])
            uow.products.retire("acme", ["A", "B"], T0)
            uow.commit()
        with seeded.unit_of_work() as uow:
            # A as it was, B changed, C new: a restore is counted as an update.
            assert uow.products.upsert(
                [product("A").to_row(), product("B", quantity=7).to_row(), product("C").to_row()]
            ) == (1, 2, 0)
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert [p.sku for p in uow.products.page("acme")] == ["A", "B", "C"]
            assert uow.products.page("acme", retired=True) == []
            assert present(uow.products.get("acme", "B")).quantity == 7

    def test_retired_products_are_purged_only_once_retired_before_the_instant(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B", "C")])
            uow.products.retire("acme", ["A"], T0)
            uow.products.retire("acme", ["B"], T0 + timedelta(days=2))
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert uow.products.purge_retired(T0) == 0  # retired at the instant: not before it
            assert uow.products.purge_retired(T0 + timedelta(days=1)) == 1
            # Not committed: rolled back like any other write.
        with seeded.unit_of_work() as uow:
            assert [p.sku for p in uow.products.page("acme", retired=True)] == ["A", "B"]
            assert uow.products.purge_retired(T0 + timedelta(days=1)) == 1
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert [p.sku for p in uow.products.page("acme", retired=True)] == ["B"]
            assert [p.sku for p in uow.products.page("acme")] == ["C"]  # active ones are never purged
            assert uow.products.upsert([product("A").to_row()]) == (1, 0, 0)  # gone: created anew
            uow.commit()

    def test_feed_sku_register_names_the_active_skus_the_feed_left_out(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B", "C", "D", "E")])
            uow.products.upsert([attrs.evolve(product("Z"), partner_id="globex").to_row()])
            uow.products.retire("acme", ["E"], T0)
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert uow.feed_skus.unseen("acme") == ["A", "B", "C", "D"]  # in SKU order; E is retired
            uow.feed_skus.repeated(["D", "NEW", "B"])
            uow.feed_skus.repeated(["B", "E"])  # a repeat, and a retired SKU named again
            assert uow.feed_skus.unseen("acme") == ["A", "C"]
            assert uow.feed_skus.unseen("globex") == ["Z"]
            assert uow.feed_skus.unseen("nobody") == []

    def test_held_imports_are_listed_oldest_first_and_settled_once(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.imports.add(_import("f1", at=T0 + timedelta(minutes=2), status=ImportStatus.HELD))
            uow.imports.add(_import("f2", at=T0 + timedelta(minutes=1), status=ImportStatus.HELD))
            uow.imports.add(_import("f3", at=T0))
            uow.imports.add(attrs.evolve(_import("f4", at=T0, status=ImportStatus.HELD), partner_id="globex"))
            uow.held_feeds.add(HeldFeed("f1", "acme", b'{"products": []}\n', ("A", "B")))
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert [e.id for e in uow.imports.held()] == ["f4", "f2", "f1"]
            assert [e.id for e in uow.imports.held("acme")] == ["f2", "f1"]
            assert uow.held_feeds.get("f1") == HeldFeed("f1", "acme", b'{"products": []}\n', ("A", "B"))
            assert uow.held_feeds.get("f2") is None
            assert uow.imports.settle("f1", ImportStatus.RELEASED)
            assert not uow.imports.settle("f1", ImportStatus.DISCARDED)  # settled already
            assert not uow.imports.settle("f3", ImportStatus.DISCARDED)  # never held
            assert not uow.imports.settle("nope", ImportStatus.DISCARDED)
            assert uow.held_feeds.remove("f1")
            assert not uow.held_feeds.remove("f1")
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.imports.get("f1")).status is ImportStatus.RELEASED
            assert present(uow.imports.get("f3")).status is ImportStatus.APPLIED
            assert [e.id for e in uow.imports.held()] == ["f4", "f2"]
            assert uow.held_feeds.get("f1") is None
            assert present(uow.imports.latest_applied("acme")).id == "f3"  # held ones never are

    # --- the change feed (ADR 0037) -------------------------------------------------------

    def test_every_product_write_is_one_change_in_commit_order(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B")])
            uow.products.upsert([attrs.evolve(product("G"), partner_id="globex").to_row()])
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row(), product("B", quantity=9).to_row()])  # A unchanged
            uow.products.retire("acme", ["A", "NOPE"], T0)
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("LOST").to_row()])  # rolled back: no change
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("A").to_row()])
            uow.commit()
        everything = _all_changes(seeded)
        assert [(c.partner_id, c.sku, str(c.kind)) for c in everything] == [
            ("acme", "A", "created"),
            ("acme", "B", "created"),
            ("globex", "G", "created"),
            ("acme", "B", "updated"),
            ("acme", "A", "retired"),
            ("acme", "A", "restored"),
        ]
        assert len({c.cursor for c in everything}) == 6
        assert everything[4].at == T0  # a retirement is at the instant it was given
        assert [c.sku for c in _all_changes(seeded, partner_id="globex")] == ["G"]
        with seeded.unit_of_work(read_only=True) as uow:
            # Any change's cursor resumes right after it, a page at a time.
            for n, change in enumerate(everything):
                assert uow.changes.after(change.cursor, limit=2) == everything[n + 1 : n + 3]
            assert uow.changes.after(None, limit=1000, partner_id="nobody") == []
            for invalid in ("", "x", "-1", "1.2.3", "9" * 50):
                with pytest.raises(InvalidCursor):
                    uow.changes.after(invalid)

    def test_the_feeds_end_is_the_newest_changes_cursor(self, seeded: StoreUnderTest) -> None:
        """What a follower that needs only the changes from now on starts after (the product
        cache's, ADR 0017): nothing before it is read again, everything after it is."""
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.changes.end() is None
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B", "C")])
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            end = uow.changes.end()
            assert end == uow.changes.after(None, limit=100)[-1].cursor
            assert uow.changes.after(end) == []
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("B", quantity=9).to_row()])
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert [(c.sku, str(c.kind)) for c in uow.changes.after(end)] == [("B", "updated")]

    def test_change_records_older_than_the_instant_are_purged_and_cursors_go_on(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product(s).to_row() for s in ("A", "B")])
            uow.products.retire("acme", ["A"], T0)
            uow.commit()
        time.sleep(0.01)  # stores keep milliseconds: the instant is clearly after those writes
        instant = datetime.now(UTC)
        time.sleep(0.01)
        old = _all_changes(seeded)
        with seeded.unit_of_work() as uow:
            uow.products.upsert([product("C").to_row()])
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert uow.changes.purge(instant) == 3
            # Not committed: rolled back like any other write.
        assert len(_all_changes(seeded)) == 4
        with seeded.unit_of_work() as uow:
            assert uow.changes.purge(instant) == 3
            uow.commit()
        assert [c.sku for c in _all_changes(seeded)] == ["C"]
        with seeded.unit_of_work(read_only=True) as uow:
            # A consumer's cursor from before the purge still resumes where it was.
            assert [c.sku for c in uow.changes.after(old[-1].cursor)] == ["C"]
            assert [c.sku for c in uow.changes.after(old[0].cursor)] == ["C"]
        with seeded.unit_of_work() as uow:
            assert uow.changes.purge(datetime.now(UTC) + timedelta(hours=1)) == 1  # every record
            uow.commit()
        with seeded.unit_of_work() as uow:
            assert uow.changes.after(None) == []
            uow.products.upsert([product("D").to_row()])
            uow.commit()
        # Purged numbers are never handed out again: the old cursor still sees what came next.
        with seeded.unit_of_work(read_only=True) as uow:
            assert [c.sku for c in uow.changes.after(old[-1].cursor)] == ["D"]

    # --- ledger -----------------------------------------------------------------------

    def test_ledger_finds_latest_applied_and_keeps_each_fingerprint(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.imports.add(_import("f1", at=T0, key="k1"))
            uow.imports.add(_import("f2", at=T0 + timedelta(minutes=1)))
            uow.imports.add(_import("f3", at=T0 + timedelta(minutes=2), status=ImportStatus.REJECTED))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.imports.latest_applied("acme")).id == "f2"
            assert uow.imports.latest_applied("globex") is None
            assert [e.id for e in uow.imports.recent("acme")] == ["f3", "f2", "f1"]
            assert uow.imports.get("f1") == _import("f1", at=T0, key="k1")
            assert uow.imports.get("nope") is None

    def test_latest_applied_matching_a_fingerprint_is_that_entry_or_none(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.imports.add(_import("f1", at=T0))
            uow.imports.add(_import("f2", at=T0 + timedelta(minutes=1)))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            latest = uow.imports.latest_applied("acme", matching=_fingerprint("cf2"))
            assert latest == _import("f2", at=T0 + timedelta(minutes=1))
            # Only the latest entry is compared: an older one with that fingerprint is no repeat.
            assert uow.imports.latest_applied("acme", matching=_fingerprint("cf1")) is None
            assert uow.imports.latest_applied("acme", matching=_fingerprint("cf2", atomic=False)) is None
            assert uow.imports.latest_applied("globex", matching=_fingerprint("cf2")) is None

    def test_of_imports_completed_at_one_instant_the_last_added_is_the_latest(
        self, seeded: StoreUnderTest
    ) -> None:
        # Two feeds in one clock tick (a coarse clock, a fast client): the repeat check compares a
        # feed with the partner's latest applied one, which must be the one applied last.
        with seeded.unit_of_work() as uow:
            for feed_id in ("f1", "f2", "f3"):
                uow.imports.add(_import(feed_id, at=T0))
                uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.imports.latest_applied("acme")).id == "f3"
            assert [e.id for e in uow.imports.recent("acme")] == ["f3", "f2", "f1"]

    def test_an_import_recorded_before_fingerprints_has_none(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            uow.imports.add(attrs.evolve(_import("f1", at=T0), fingerprint=None))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.imports.get("f1")).fingerprint is None

    def test_a_second_import_under_a_partners_idempotency_key_is_a_conflict(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            uow.imports.add(_import("f1", at=T0, key="retried"))
            uow.commit()
        with seeded.unit_of_work() as uow:
            for duplicate, said in (
                (_import("f2", at=T0, key="retried"), f"feed import 'f2' {IDEMPOTENCY_TAKEN}"),
                (_import("f1", at=T0), f"feed import 'f1' {EXISTS}"),
            ):
                with pytest.raises(ConflictError) as refused:
                    uow.imports.add(duplicate)
                assert_said(refused.value, said)
            # Another partner's key is its own, and the unit of work is still usable after the conflicts.
            uow.imports.add(attrs.evolve(_import("f3", at=T0, key="retried"), partner_id="globex"))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.imports.get("f1")).idempotency_key == "retried"
            assert present(uow.imports.get("f3")).partner_id == "globex"
            assert uow.imports.get("f2") is None

    # --- Idempotency-Keys ---------------------------------------------------------------

    def test_a_key_is_recorded_once_per_partner_with_its_fingerprint_and_what_it_named(
        self,
        seeded: StoreUnderTest,
    ) -> None:
        first = KeyUse("acme", "nightly-1", _fingerprint("h1"), T0, feed_id="f1")
        as_job = KeyUse("acme", "nightly-2", _fingerprint("h2", mode=None, atomic=None), T0, job_id="j1")
        with seeded.unit_of_work() as uow:
            uow.idempotency_keys.add(first)
            uow.idempotency_keys.add(as_job)
            with pytest.raises(IdempotencyKeyTaken) as refused:
                uow.idempotency_keys.add(attrs.evolve(first, feed_id=None, job_id="j2"))
            assert_said(refused.value, f"Idempotency-Key 'nightly-1' {IDEMPOTENCY_TAKEN}")
            # Another partner's key is its own, and the unit of work is still usable after the conflict.
            uow.idempotency_keys.add(attrs.evolve(first, partner_id="globex", feed_id="f9"))
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.idempotency_keys.add(KeyUse("acme", "rolled-back", _fingerprint("h3"), T0, feed_id="f3"))
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.idempotency_keys.get("acme", "nightly-1") == first
            assert uow.idempotency_keys.get("acme", "nightly-2") == as_job
            assert present(uow.idempotency_keys.get("globex", "nightly-1")).feed_id == "f9"
            assert uow.idempotency_keys.get("acme", "rolled-back") is None
            assert uow.idempotency_keys.get("acme", "never") is None

    # --- jobs -------------------------------------------------------------------------

    def test_a_partners_jobs_are_claimed_one_at_a_time_in_submission_order(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            for n in (0, 2, 1):  # submitted in this order, whatever their times say
                j, body = job(f"j{n}", at=T0 + timedelta(seconds=n))
                uow.jobs.add(j, io.BytesIO(body))
            uow.commit()
        claimed = []
        for token in ("t1", "t2", "t3", "t4", "t5"):
            with seeded.unit_of_work() as uow:
                got = uow.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=30), token)
                busy = uow.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=30), token + "-again")
                if got is not None:
                    assert uow.jobs.complete(
                        Lease(got.id, token, T0), report(got.id), T0 + timedelta(minutes=1)
                    )
                uow.commit()
            assert busy is None  # the partner's one running job blocks the rest of its queue
            claimed.append(None if got is None else (got.id, got.status, got.attempts, got.lease_token))
        assert claimed == [
            ("j0", JobStatus.RUNNING, 1, "t1"),
            ("j2", JobStatus.RUNNING, 1, "t2"),
            ("j1", JobStatus.RUNNING, 1, "t3"),
            None,
            None,
        ]

    def test_only_the_current_lease_holder_finishes_a_job(self, seeded: StoreUnderTest) -> None:
        j, body = job("j1")
        with seeded.unit_of_work() as uow:
            uow.jobs.add(j, io.BytesIO(body))
            first = uow.jobs.claim(T0, timedelta(seconds=10), "old")
            uow.commit()
        assert first is not None
        expired = T0 + timedelta(seconds=11)
        with seeded.unit_of_work() as uow:  # the lease expired: another worker takes it
            second = uow.jobs.claim(expired, timedelta(seconds=10), "new")
            uow.commit()
        assert second is not None and second.attempts == 2
        stale, fresh = Lease("j1", "old", expired), Lease("j1", "new", expired)
        with seeded.unit_of_work() as uow:
            assert uow.jobs.complete(stale, report("f1"), expired) is False
            assert uow.jobs.renew(stale, expired + timedelta(minutes=5)) is False
            assert uow.jobs.renew(fresh, expired + timedelta(minutes=5)) is True
            assert uow.jobs.complete(fresh, report("f1"), expired) is True
            assert uow.jobs.complete(fresh, report("f1"), expired) is False
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            done = present(uow.jobs.get("j1"))
        assert done.status is JobStatus.SUCCEEDED and done.report == report("f1") and done.lease_token is None

    def test_failed_jobs_are_retried_later_then_dead_and_revivable(self, seeded: StoreUnderTest) -> None:
        j, body = job("j1")
        with seeded.unit_of_work() as uow:
            uow.jobs.add(j, io.BytesIO(body))
            uow.jobs.claim(T0, timedelta(seconds=10), "t1")
            assert uow.jobs.fail(Lease("j1", "t1", T0), "boom", T0 + timedelta(minutes=1), T0)
            assert (
                uow.jobs.claim(T0 + timedelta(seconds=30), timedelta(seconds=10), "t2") is None
            )  # not yet due
            again = uow.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=10), "t3")
            assert again is not None and again.last_error == "boom"
            assert uow.jobs.fail(Lease("j1", "t3", T0), "boom again", None, T0)
            assert present(uow.jobs.get("j1")).status is JobStatus.DEAD
            assert uow.jobs.revive("j1", T0) is True
            assert uow.jobs.revive("j1", T0) is False  # no longer dead
            revived = present(uow.jobs.get("j1"))
            uow.commit()
        assert revived.status is JobStatus.QUEUED and revived.attempts == 0

    def test_released_jobs_go_back_without_counting_the_attempt(self, seeded: StoreUnderTest) -> None:
        j, body = job("j1")
        with seeded.unit_of_work() as uow:
            uow.jobs.add(j, io.BytesIO(body))
            uow.jobs.claim(T0, timedelta(seconds=10), "t1")
            assert uow.jobs.release(Lease("j1", "t1", T0), T0)
            got = present(uow.jobs.get("j1"))
            uow.commit()
        assert got.status is JobStatus.QUEUED and got.attempts == 0

    def test_job_bodies_stream_back_byte_for_byte(self, seeded: StoreUnderTest) -> None:
        body = bytes(range(256)) * 5000  # 1.28 MB, several chunks
        j, _ = job("big", body=body)
        with seeded.unit_of_work() as uow:
            uow.jobs.add(j, io.BytesIO(body))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            stream = uow.jobs.open_body("big")
            read = b"".join(iter(lambda: stream.read(70_000), b""))
            stream.close()
            with pytest.raises(NotFoundError):
                uow.jobs.open_body("nope")
        assert read == body

    def test_jobs_keep_their_idempotency_key_listing_and_counts(self, seeded: StoreUnderTest) -> None:
        with seeded.unit_of_work() as uow:
            for n, key in enumerate(["a", None, "b"]):
                j, body = job(f"j{n}", at=T0 + timedelta(seconds=n), key=key)
                uow.jobs.add(j, io.BytesIO(body))
            with pytest.raises(ConflictError):
                uow.jobs.add(job("j0")[0], io.BytesIO(b"{}"))
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.jobs.claim(T0 + timedelta(minutes=1), timedelta(seconds=5), "t")
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.jobs.get("j2")).idempotency_key == "b"
            assert [j.id for j in uow.jobs.recent()] == ["j2", "j1", "j0"]
            assert [j.id for j in uow.jobs.recent(status=JobStatus.RUNNING)] == ["j0"]
            counts = uow.jobs.status_counts()
        assert (
            counts[JobStatus.QUEUED] == 2 and counts[JobStatus.RUNNING] == 1 and counts[JobStatus.DEAD] == 0
        )

    def test_a_second_job_under_a_partners_idempotency_key_is_a_conflict(
        self, seeded: StoreUnderTest
    ) -> None:
        with seeded.unit_of_work() as uow:
            first, body = job("j1", key="retried")
            uow.jobs.add(first, io.BytesIO(body))
            uow.commit()
        with seeded.unit_of_work() as uow:
            with pytest.raises(ConflictError) as refused:
                uow.jobs.add(job("j2", key="retried")[0], io.BytesIO(b"{}"))
            assert_said(refused.value, f"job 'j2' {IDEMPOTENCY_TAKEN}")
            # Another partner's key is its own, and the unit of work is still usable after the conflict.
            uow.jobs.add(attrs.evolve(job("j3", key="retried")[0], partner_id="globex"), io.BytesIO(b"{}"))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.jobs.get("j1")).idempotency_key == "retried"
            assert present(uow.jobs.get("j3")).partner_id == "globex"
            assert uow.jobs.get("j2") is None

    # --- partners and keys --------------------------------------------------------------

    def test_partners_add_update_list_and_conflict(self, seeded: StoreUnderTest) -> None:
        changed = attrs.evolve(
            partner("acme"),
            policy=ValidationPolicy(mode=Mode.LENIENT, atomic=True, max_error_ratio=0.1),
            rate_limit_per_minute=120,
            endpoint="https://feeds.acme.example/catalog.json",
            endpoint_auth="gAAAA-ciphertext",
            endpoint_headers={"X-Token": "gAAAA-more"},
            allow_policy_override=True,
            currency="JPY",
        )
        with seeded.unit_of_work() as uow:
            uow.partners.update(changed)
            with pytest.raises(ConflictError) as refused:
                uow.partners.add(partner("acme"))
            assert_said(refused.value, f"partner 'acme' {EXISTS}")
            with pytest.raises(NotFoundError):
                uow.partners.update(partner("nobody"))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.partners.get("acme") == changed
            assert [p.id for p in uow.partners.all()] == ["acme", "globex"]
            assert uow.partners.get("nobody") is None
        # The currency is cleared as it was set (None: feeds that carry none are refused).
        with seeded.unit_of_work() as uow:
            uow.partners.update(attrs.evolve(changed, currency=None))
            uow.partners.add(attrs.evolve(partner("initech"), currency="KWD"))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert [(p.id, p.currency) for p in uow.partners.all()] == [
                ("acme", None),
                ("globex", None),
                ("initech", "KWD"),
            ]

    def test_api_keys_store_hashes_revoke_and_touch(self, seeded: StoreUnderTest) -> None:
        partner_key = ApiKey(
            "k1", KeyRole.PARTNER, "acme", b"\x01" * 32, T0, expires_at=T0 + timedelta(days=90)
        )
        admin_key = ApiKey("k2", KeyRole.ADMIN, None, b"\x02" * 32, T0 + timedelta(seconds=1), label="ops")
        with seeded.unit_of_work() as uow:
            assert uow.api_keys.count() == 0
            uow.api_keys.add(partner_key)
            uow.api_keys.add(admin_key)
            assert uow.api_keys.revoke("k1", T0 + timedelta(hours=2))
            assert uow.api_keys.revoke("k1", T0 + timedelta(hours=1))  # earlier wins
            assert uow.api_keys.revoke("k1", T0 + timedelta(hours=3))  # later does not
            assert not uow.api_keys.revoke("nope", T0)
            uow.api_keys.touch("k2", T0 + timedelta(minutes=5))
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert present(uow.api_keys.get("k1")).revoked_at == T0 + timedelta(hours=1)
            assert present(uow.api_keys.get("k2")).last_used_at == T0 + timedelta(minutes=5)
            assert [k.id for k in uow.api_keys.for_partner("acme")] == ["k1"]
            assert [k.id for k in uow.api_keys.for_partner(None)] == ["k2"]
            assert uow.api_keys.count() == 2
            assert present(uow.api_keys.get("k1")).secret_hash == b"\x01" * 32

    def test_the_admin_keys_in_service_are_the_unrevoked_unexpired_admin_keys(
        self, seeded: StoreUnderTest
    ) -> None:
        now = T0 + timedelta(days=1)

        def admin(key_id: str, **changes: Any) -> ApiKey:
            return ApiKey(key_id, KeyRole.ADMIN, None, b"\x03" * 32, T0, **changes)

        with seeded.unit_of_work() as uow:
            uow.api_keys.add(admin("a-plain"))
            uow.api_keys.add(admin("b-expiring", expires_at=now + timedelta(seconds=1)))
            uow.api_keys.add(admin("c-expired", expires_at=now))
            uow.api_keys.add(admin("d-revoked", revoked_at=T0 + timedelta(hours=1)))
            uow.api_keys.add(admin("e-retiring", revoked_at=now + timedelta(hours=1)))
            uow.api_keys.add(ApiKey("f-partner", KeyRole.PARTNER, "acme", b"\x04" * 32, T0))
            assert [k.id for k in uow.api_keys.active_admin_keys(now)] == ["a-plain", "b-expiring"]
            uow.commit()
        with seeded.unit_of_work() as uow:
            uow.api_keys.revoke("a-plain", now)
            assert [k.id for k in uow.api_keys.active_admin_keys(now)] == ["b-expiring"]
            assert uow.api_keys.active_admin_keys(now + timedelta(seconds=1)) == []
            [key] = uow.api_keys.active_admin_keys(now)
            assert key == admin("b-expiring", expires_at=now + timedelta(seconds=1))

    # --- schedules ----------------------------------------------------------------------

    def test_due_schedules_are_claimed_once_until_released(self, seeded: StoreUnderTest) -> None:
        def schedule(sid: str, minutes: int, **kw: Any) -> Schedule:
            return Schedule(
                id=sid,
                partner_id="acme",
                next_run_at=T0 + timedelta(minutes=minutes),
                interval_seconds=300,
                **kw,
            )

        with seeded.unit_of_work() as uow:
            uow.schedules.add(schedule("s1", 0))
            uow.schedules.add(schedule("s2", 5))
            uow.schedules.add(schedule("s3", 0, enabled=False))
            uow.commit()
        now = T0 + timedelta(minutes=1)
        with seeded.unit_of_work() as uow:
            due = uow.schedules.claim_due(now, now + timedelta(minutes=10), limit=10)
            uow.commit()
        assert [s.id for s in due] == ["s1"] and due[0].next_run_at == T0
        with seeded.unit_of_work() as uow:
            assert uow.schedules.claim_due(now, now + timedelta(minutes=10), limit=10) == []
            done = attrs.evolve(due[0], next_run_at=now + timedelta(minutes=5), last_run_at=now, etag='"v1"')
            uow.schedules.update(done)
            assert uow.schedules.delete("s2")
            assert not uow.schedules.delete("s2")
            uow.commit()
        with seeded.unit_of_work(read_only=True) as uow:
            assert uow.schedules.get("s1") == done
            assert [s.id for s in uow.schedules.all("acme")] == ["s1", "s3"]

    # --- audit --------------------------------------------------------------------------

    def test_audit_is_queryable_by_time_partner_action_and_outcome(self, seeded: StoreUnderTest) -> None:
        entries = [
            AuditEntry(
                T0,
                AuditAction.AUTH_FAILED,
                Outcome.DENIED,
                "anonymous",
                client="10.0.0.1",
                details={"key_id": "abc"},
            ),
            AuditEntry(
                T0 + timedelta(minutes=1),
                AuditAction.FEED_INGESTED,
                Outcome.SUCCESS,
                "acme",
                partner_id="acme",
            ),
            AuditEntry(
                T0 + timedelta(minutes=2),
                AuditAction.ITEM_REJECTED,
                Outcome.REJECTED,
                "acme",
                partner_id="acme",
            ),
            AuditEntry(
                T0 + timedelta(minutes=3),
                AuditAction.FEED_INGESTED,
                Outcome.SUCCESS,
                "globex",
                partner_id="globex",
            ),
        ]
        seeded.audit_log.append(entries[0])
        with seeded.unit_of_work() as uow:
            uow.audit.append_many(entries[1:])
            uow.commit()

        def actions(**query: Any) -> list[str]:
            return [str(e.action) + ":" + e.actor for e in seeded.audit_log.query(AuditQuery(**query))]

        assert actions() == [
            "feed.ingested:globex",
            "feed.item_rejected:acme",
            "feed.ingested:acme",
            "auth.failed:anonymous",
        ]
        assert actions(partner_id="acme") == ["feed.item_rejected:acme", "feed.ingested:acme"]
        assert actions(action=AuditAction.FEED_INGESTED) == ["feed.ingested:globex", "feed.ingested:acme"]
        assert actions(outcome=Outcome.DENIED) == ["auth.failed:anonymous"]
        assert actions(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == [
            "feed.item_rejected:acme",
            "feed.ingested:acme",
        ]
        assert actions(limit=1) == ["feed.ingested:globex"]
        newest = seeded.audit_log.query(AuditQuery())
        ids = [present(e.id) for e in newest]
        assert ids == sorted(ids, reverse=True)
        assert actions(before_id=ids[1]) == ["feed.ingested:acme", "auth.failed:anonymous"]
        assert newest[-1].details == {"key_id": "abc"} and newest[-1].client == "10.0.0.1"
