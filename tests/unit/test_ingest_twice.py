"""Property (d): ingesting the same feed twice is harmless.

Through `IngestFeed` on the in-memory store: the second ingest leaves the store
exactly as the first left it, and its report counts every item unchanged (the
invalid ones rejected again, the same way).
"""

from __future__ import annotations

import io
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PARTNER, broken_items, feeds
from support.examples import examples

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import FeedStatus, IngestCounts, IngestReport, Partner, jsontext
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

REGISTRY = load_formats(entry_points=False)
FORMATS = REGISTRY.all()


def fresh_app() -> tuple[IngestFeed, InMemoryStore]:
    # The use case over the in-memory store, wired by hand: bootstrap.in_memory() also
    # builds what this test has no use for (an HTTP fetcher, ~20 ms per example).
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id=PARTNER, name="Acme", created_at=clock.now(), default_version=2))
        uow.commit()
    return IngestFeed(store.unit_of_work, REGISTRY, clock, SequentialIds()), store


class Unseekable(io.BytesIO):
    """A body that can be read once only (a pipe, a socket): it is processed again, since
    nothing can hash it before the work."""

    def seekable(self) -> bool:
        return False


def submit(ingest: IngestFeed, body: bytes, name: str, version: int) -> IngestReport:
    return ingest(FeedSubmission(partner_id=PARTNER, body=Unseekable(body), format=name, version=version))


def test_the_same_feed_twice_from_a_seekable_body_is_answered_with_the_first_report() -> None:
    ingest, store = fresh_app()
    body = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'

    def send() -> IngestReport:
        return ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format="json", version=2))

    first = send()
    commits = store.commits
    assert send() == first  # recognized by its fingerprint before any work
    assert store.commits == commits + 1  # the duplicate's audit entry, nothing else


@settings(max_examples=examples(60))
@given(data=st.data())
def test_the_same_valid_feed_twice_changes_nothing_the_second_time(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    feed = data.draw(feeds(fmt.version, max_size=8), label="feed")
    body = fmt.render(feed)
    ingest, store = fresh_app()

    first = submit(ingest, body, fmt.name, fmt.version)
    assert first.feed_error is None, first.feed_error
    assert first.counts == IngestCounts(received=len(feed), created=len(feed))
    products = dict(store.tables.products)

    second = submit(ingest, body, fmt.name, fmt.version)
    assert store.tables.products == products
    assert second.counts == IngestCounts(received=len(feed), unchanged=len(feed))
    assert second.status is FeedStatus.ACCEPTED


@settings(max_examples=examples(60))
@given(items=st.lists(broken_items(2), min_size=1, max_size=8))
def test_a_feed_with_invalid_items_twice_rejects_the_same_and_changes_nothing(
    items: list[dict[str, Any]],
) -> None:
    try:
        body = jsontext.dumps({"products": items}).encode()
    except (ValueError, TypeError):  # a NaN: no JSON document carries it
        return
    ingest, store = fresh_app()
    first = submit(ingest, body, "json", 2)
    products = dict(store.tables.products)
    second = submit(ingest, body, "json", 2)

    assert store.tables.products == products
    assert second.feed_error == first.feed_error
    assert [e.to_json() for e in second.errors] == [e.to_json() for e in first.errors]
    assert second.errors_total == first.errors_total
    if first.applied:
        assert second.counts == IngestCounts(
            received=first.counts.received,
            unchanged=first.counts.created + first.counts.updated + first.counts.unchanged,
            rejected=first.counts.rejected,
        )
    else:
        assert second.counts == first.counts


def test_a_partner_handed_on_by_the_caller_is_used_instead_of_read_again() -> None:
    # The access check of a feed request read the partner moments ago; the ingest uses that
    # one (here it says version 1 where the stored partner says 2), unless it names another.
    ingest, store = fresh_app()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.partners.get(PARTNER)
    assert stored is not None and stored.default_version == 2
    handed = attrs.evolve(stored, default_version=1)
    body = b'{"products": [{"sku": "A-1", "name": "One", "price": 1.50, "currency": "EUR", "quantity": 1}]}'
    report = ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format="json", partner=handed))
    assert report.version == 1
    other = attrs.evolve(stored, id="someone-else", default_version=1)
    report = ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(body), format="json", partner=other))
    assert report.version == 2  # not this submission's partner: read from the store
