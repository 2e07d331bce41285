"""What the SQLite writer asks the database for a small feed (ADR 0046), and the answers it
keeps for a batch (adapters_out/sqlite/batch_reads.py, batch_repositories.py) staying true within it.

A real writer thread on a real database file; the first call holds the writer until every
other call is queued, so they all run in one batch, as they do under load over HTTP.
"""

from __future__ import annotations

import functools
import inspect
import io
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.sqlite_files import migrated_database

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.adapters_out.sql.diagnostics import SqlDiagnosticRepository
from partner_ingest.adapters_out.sql.ledger import SqlFeedImportLedger
from partner_ingest.adapters_out.sql.repository import SqlRepository
from partner_ingest.adapters_out.sql.webhooks import SqlWebhookRepository
from partner_ingest.adapters_out.sqlite.batch_repositories import BatchDiagnostics, BatchLedger, BatchWebhooks
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.sqlite.testing import seed_partner
from partner_ingest.adapters_out.sqlite.writer import SqliteWriter
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.report import FeedStatus, IngestReport
from partner_ingest.domain.model.webhooks import Webhook
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.feed_terms import Ingested, IngestStep
from partner_ingest.domain.use_cases.webhooks import QueueWebhookEvents
from partner_ingest.plugins import load_formats
from partner_ingest.ports import UnitOfWork

FORMATS = load_formats(entry_points=False)
FEEDS = 32
STATEMENTS_A_FEED = 7
"""A 10-item feed that updates its 10 products: SAVEPOINT, the products' probe, their upsert,
the change record, the ledger entry, RELEASE, its audit row."""
STATEMENTS_A_BATCH = 6
"""BEGIN IMMEDIATE, the partner's latest applied import (the repeat check), webhook and open
diagnostics, the chain's newest hash, COMMIT."""


class Refused(Exception):
    """What a refusing step raises, inside its unit of work."""


def json_feed(counter: int, items: int = 10) -> bytes:
    """The HTTP benchmark's feed: `items` products whose prices follow `counter`."""
    products = ", ".join(
        f'{{"sku": "HTTP-{n:02d}", "name": "Café crème {n}", "price": {10 + counter % 500}.{n:02d}, '
        f'"currency": "EUR", "quantity": {counter % 1000}}}'
        for n in range(1, items + 1)
    )
    return f'{{"products": [{products}]}}'.encode()


def one_batch(
    writer: SqliteWriter, works: Sequence[Callable[[], object]], *, trace: list[str] | None = None
) -> list[object]:
    """Run `works` in one batch of the writer (a first call holds it until all are queued);
    their results or errors, in order. With `trace`, the statements the batch ran."""
    gate, told = threading.Event(), threading.Event()
    answers: list[object] = [None] * len(works)
    left = [len(works)]

    def hold() -> None:
        if trace is not None:
            # The writer's connection, which its units share (this one is never entered).
            writer.unit_of_work().conn.set_trace_callback(trace.append)
        assert gate.wait(30)

    def done_at(position: int) -> Callable[[object, BaseException | None], None]:
        def done(value: object, error: BaseException | None) -> None:
            answers[position] = value if error is None else error
            left[0] -= 1
            if not left[0]:
                told.set()

        return done

    writer.submit(hold, lambda value, error: None)
    for position, work in enumerate(works):
        writer.submit(work, done_at(position))
    gate.set()
    assert told.wait(60)
    return answers


PARTNERS: dict[str, Partner] = {}
"""The partners as the HTTP layer hands them over with each feed (its access check read them)."""


def seed(store: SqliteStore, partner_id: str) -> None:
    PARTNERS[partner_id] = seed_partner(store, partner_id, default_format="json", default_version=2)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(migrated_database(tmp_path / "budget.db"))
    seed(opened, "bench")
    return opened


def ingest_over(writer: SqliteWriter, *, steps: Sequence[IngestStep] = ()) -> IngestFeed:
    """The ingest `serve` submits to its writer: queued webhook events among its steps."""
    return IngestFeed(
        writer.unit_of_work,
        FORMATS,
        FakeClock(),
        UuidIds(),
        steps=[*steps, QueueWebhookEvents(FakeClock(), UuidIds())],
    )


def submission(body: bytes, partner: str = "bench", fmt: str = "json") -> FeedSubmission:
    return FeedSubmission(
        partner_id=partner, body=io.BytesIO(body), format=fmt, version=2, partner=PARTNERS[partner]
    )


def test_a_small_feed_that_updates_its_products_costs_the_writer_seven_statements(store: SqliteStore) -> None:
    writer = SqliteWriter(store)
    ingest = ingest_over(writer)
    first = one_batch(writer, [lambda: ingest(submission(json_feed(0)))])[0]
    assert isinstance(first, IngestReport) and first.counts.created == 10
    statements: list[str] = []
    reports = one_batch(
        writer,
        [functools.partial(ingest, submission(json_feed(n))) for n in range(1, FEEDS + 1)],
        trace=statements,
    )
    assert all(isinstance(r, IngestReport) and r.counts.updated == 10 for r in reports), reports
    batch = list(statements)
    # The budget: a statement more a feed is a GIL hand-off more in the one thread every feed
    # over HTTP waits for (ADR 0043, ADR 0046). Raise it only with a figure that pays for it.
    assert len(batch) <= STATEMENTS_A_FEED * FEEDS + STATEMENTS_A_BATCH, "\n".join(batch)
    writer.close()
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.imports.recent("bench", limit=100)) == FEEDS + 1
    store.close()


def _writes(base: type[SqlRepository], keeps: frozenset[str], batch: type[SqlRepository]) -> list[str]:
    """The public methods of `base` that may write, which `batch` does not override."""
    return [
        name
        for name, _ in inspect.getmembers(base, inspect.isfunction)
        if not name.startswith("_") and name not in keeps and name not in vars(batch)
    ]


def test_every_method_that_may_change_a_kept_answer_forgets_it() -> None:
    assert _writes(SqlWebhookRepository, BatchWebhooks.KEEPS, BatchWebhooks) == []
    assert _writes(SqlDiagnosticRepository, BatchDiagnostics.KEEPS, BatchDiagnostics) == []
    assert _writes(SqlFeedImportLedger, BatchLedger.KEEPS, BatchLedger) == []


def test_diagnostics_a_neighbour_opened_in_the_batch_are_closed_by_the_feed_that_accepts_the_sku(
    store: SqliteStore,
) -> None:
    writer = SqliteWriter(store)
    ingest = IngestFeed(writer.unit_of_work, FORMATS, FakeClock(), UuidIds())
    valid = b'{"sku": "X-1", "name": "Fixed", "price": 2.50, "currency": "EUR", "quantity": 1}\n'
    invalid = b'{"sku": "X-1", "name": "Broken", "price": -1, "currency": "EUR", "quantity": 1}\n'
    other = b'{"sku": "Y-1", "name": "Other", "price": 1.00, "currency": "EUR", "quantity": 1}\n'
    reports = one_batch(
        writer,
        [
            # Asks first (nothing open: the answer kept), then a neighbour opens one, then
            # another accepts its SKU and must close it.
            lambda: ingest(submission(other, fmt="jsonl")),
            lambda: ingest(submission(other + invalid, fmt="jsonl")),
            lambda: ingest(submission(valid, fmt="jsonl")),
        ],
    )
    assert [r.status for r in reports if isinstance(r, IngestReport)] == [
        FeedStatus.ACCEPTED,
        FeedStatus.PARTIAL,
        FeedStatus.ACCEPTED,
    ]
    fixed = reports[2]
    assert isinstance(fixed, IngestReport)
    writer.close()
    with store.unit_of_work(read_only=True) as uow:
        kept = uow.diagnostics.latest_for_sku("bench", "X-1")
        assert kept and all(d.resolved_by == fixed.feed_id for d in kept)
        assert not uow.diagnostics.has_open("bench")
    store.close()


def _webhook(partner: str) -> Webhook:
    now = datetime.now(UTC)
    return Webhook(
        partner_id=partner, url="https://hooks.example/in", secret="sealed", created_at=now, updated_at=now
    )


def test_a_webhook_set_or_undone_by_a_neighbour_in_the_batch_is_what_the_next_feed_queues_for(
    store: SqliteStore,
) -> None:
    writer = SqliteWriter(store)

    def set_webhook(uow: UnitOfWork, ingested: Ingested) -> None:
        uow.webhooks.put(_webhook(ingested.submission.partner_id))

    def set_webhook_then_fail(uow: UnitOfWork, ingested: Ingested) -> None:
        set_webhook(uow, ingested)
        assert uow.webhooks.get(ingested.submission.partner_id) is not None  # read in the unit
        raise Refused("undone with what it wrote")

    plain, setting, failing = (
        ingest_over(writer),
        ingest_over(writer, steps=[set_webhook]),
        ingest_over(writer, steps=[set_webhook_then_fail]),
    )
    seed(store, "undone")
    answers = one_batch(
        writer,
        [
            lambda: plain(submission(json_feed(1))),  # no webhook yet: none queued (kept: none)
            lambda: failing(submission(json_feed(1), "undone")),  # set, read, then undone
            lambda: plain(submission(json_feed(2), "undone")),  # must find none
            lambda: setting(submission(json_feed(2))),  # set and kept (queues its own event)
            lambda: plain(submission(json_feed(3))),  # must queue one
        ],
    )
    assert isinstance(answers[1], Refused)
    assert all(isinstance(a, IngestReport) for n, a in enumerate(answers) if n != 1), answers
    writer.close()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.webhooks.get("undone") is None
        assert uow.webhooks.deliveries("undone") == []
        queued = uow.webhooks.deliveries("bench")
        assert len(queued) == 2  # the setting feed's own event and the next feed's
    store.close()


def test_a_feed_repeating_the_latest_applied_one_of_its_batch_is_answered_as_a_repeat(
    store: SqliteStore,
) -> None:
    writer = SqliteWriter(store)
    ingest = ingest_over(writer)
    bad = b'{"products": [{"sku": "B-1", "name": "", "price": -1, "currency": "EUR", "quantity": 1}]}'
    reports = one_batch(
        writer,
        [
            functools.partial(ingest, submission(json_feed(1))),
            functools.partial(ingest, submission(json_feed(1))),  # the latest: a repeat
            functools.partial(ingest, submission(bad)),  # rejected: not the latest applied
            functools.partial(ingest, submission(json_feed(1))),  # still a repeat of the first
            functools.partial(ingest, submission(json_feed(2))),
            functools.partial(ingest, submission(json_feed(1))),  # no longer the latest: applied again
        ],
    )
    assert all(isinstance(r, IngestReport) for r in reports), reports
    first, again, rejected, still, other, anew = (r for r in reports if isinstance(r, IngestReport))
    assert rejected.status is FeedStatus.REJECTED
    assert again.feed_id == still.feed_id == first.feed_id
    assert len({first.feed_id, other.feed_id, anew.feed_id, rejected.feed_id}) == 4
    assert (first.counts.created, other.counts.updated, anew.counts.updated) == (10, 10, 10)
    writer.close()
    with store.unit_of_work(read_only=True) as uow:
        assert [e.id for e in uow.imports.recent("bench")] == [
            anew.feed_id,
            other.feed_id,
            rejected.feed_id,
            first.feed_id,
        ]
    store.close()
