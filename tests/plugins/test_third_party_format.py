"""A third party adds a feed format without touching the core: the example TSV plugin
(examples/third_party_format/) handed to the plugin manager as an object, then a feed in
it ingested end to end through IngestFeed on the in-memory store; two plugins claiming
one (format, version) refused at start-up, naming both."""

from __future__ import annotations

import io
from decimal import Decimal

import partner_ingest_tsv
import pytest
from partner_ingest_tsv import MEDIA_TYPE, TsvFeed

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import ErrorCode, FeedStatus, IngestCounts, Partner, UnknownFormatError
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import DuplicateFormatError, FormatRegistry, hookimpl, load_formats
from partner_ingest.plugins.json_feed import JsonFeed
from partner_ingest.plugins.testing import check_feed_format
from partner_ingest.ports.formats import FormatRegistrar

FEED = (
    b"sku\tname\tprice\tcurrency\tquantity\tdescription\n"
    b"T-1\tTeapot\t24.90\tEUR\t3\tCast iron,\\t0.8 l\\nwith strainer\n"
    b"T-2\tCup\t4\tJPY\t12\t\n"
    b"T-3\tSaucer\t1.999\tEUR\t1\tthree decimals in EUR\n"
)


class AnotherTsvPlugin:
    """A second plugin (an object, not a module) that also claims tsv v1."""

    @hookimpl
    def partner_ingest_register_formats(self, register: FormatRegistrar) -> None:
        register(TsvFeed(1))


class JsonHijacker:
    """A plugin that claims a built-in key."""

    @hookimpl
    def partner_ingest_register_formats(self, register: FormatRegistrar) -> None:
        register(JsonFeed(1))


def ingest_with(formats: FormatRegistry) -> tuple[IngestFeed, InMemoryStore]:
    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    return IngestFeed(store.unit_of_work, formats, clock, SequentialIds()), store


def test_a_plugin_object_registers_a_new_format_beside_the_built_ins() -> None:
    formats = load_formats(plugins=[partner_ingest_tsv], entry_points=False)
    assert formats.versions("tsv") == [1, 2]
    assert formats.name_for_media_type(f"{MEDIA_TYPE}; charset=utf-8") == "tsv"
    assert formats.plugin_of("tsv", 1) == "partner_ingest_tsv"
    assert formats.versions("json") == [1, 2]  # the built-ins are still there
    check_feed_format(formats.get("tsv", 2))  # what the registry hands out is the checked format


def test_a_feed_in_the_new_format_is_ingested_end_to_end() -> None:
    ingest, store = ingest_with(load_formats(plugins=[partner_ingest_tsv], entry_points=False))

    report = ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), media_type=MEDIA_TYPE))

    assert (report.format, report.version, report.status) == ("tsv", 1, FeedStatus.PARTIAL)
    assert report.counts == IngestCounts(received=3, created=2, rejected=1)
    [error] = report.errors
    assert (error.index, error.sku, error.field, error.code) == (2, "T-3", "price", ErrorCode.PRECISION)
    assert error.location is not None and (error.location.line, error.location.column) == (4, 3)
    with store.unit_of_work() as uow:
        teapot, cup = uow.products.get("acme", "T-1"), uow.products.get("acme", "T-2")
        assert uow.products.get("acme", "T-3") is None
    assert teapot is not None and cup is not None
    assert (teapot.price, teapot.quantity, teapot.description) == (
        Decimal("24.90"),
        3,
        "Cast iron,\t0.8 l\nwith strainer",
    )
    assert (cup.price, cup.currency, cup.description) == (Decimal(4), "JPY", None)


def test_without_the_plugin_the_same_feed_is_an_unknown_format() -> None:
    formats = load_formats(entry_points=False)
    with pytest.raises(UnknownFormatError, match="tab-separated-values"):
        formats.name_for_media_type(MEDIA_TYPE)


def test_two_plugins_claiming_one_format_and_version_fail_at_start_up_naming_both() -> None:
    with pytest.raises(DuplicateFormatError) as raised:
        load_formats(plugins=[partner_ingest_tsv, AnotherTsvPlugin()], entry_points=False)
    message = str(raised.value)
    assert "tsv v1" in message
    assert "'partner_ingest_tsv'" in message and f"'{__name__}.AnotherTsvPlugin'" in message
    assert raised.value.claimed == "tsv v1"
    assert raised.value.plugins == ("partner_ingest_tsv", f"{__name__}.AnotherTsvPlugin")


def test_a_plugin_cannot_take_over_a_built_in_format() -> None:
    with pytest.raises(DuplicateFormatError, match=r"json v1 .*'partner_ingest\.json'.*JsonHijacker"):
        load_formats(plugins=[JsonHijacker()], entry_points=False)
