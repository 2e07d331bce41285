"""The read-through product cache (ADR 0017) over the in-memory store, on a fake clock.

What a reader sees through `ReadProducts` with the cache: an update sent through
ingest is read once the follower stepped, and in any case once the lag has passed
(the cache is then bypassed); retired products vanish; partners stay apart; the
effective price is computed at each read from the cached product; a follower that
fails stops cache reads at once; and a fill that raced an invalidation is refused.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.background import background_cache_follower, background_services
from partner_ingest.adapters_in.cache_follower import CacheFollower
from partner_ingest.adapters_in.settings import Settings, SettingsError
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.product_cache import InProcessProductCache
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.product_cache import ProductReadCache
from partner_ingest.domain.use_cases.read_imports import ReadProducts
from partner_ingest.plugins import load_formats
from partner_ingest.ports.unit_of_work import UnitOfWork

REGISTRY = load_formats(entry_points=False)
LAG = 1.0


class Catalog:
    """A store, its ingest, the cached reads and the fake clock they share."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = InMemoryStore()
        self.store_down = False
        self.store_reads = 0
        with self.store.unit_of_work() as uow:
            for pid in ("acme", "globex"):
                uow.partners.add(Partner(id=pid, name=pid, created_at=self.clock.now(), default_version=2))
            uow.commit()
        self.ingest = IngestFeed(self.store.unit_of_work, REGISTRY, self.clock, SequentialIds())
        self.lru = InProcessProductCache(100)
        self.cache = ProductReadCache(self.uow, self.lru, self.clock, lag_seconds=LAG)
        self.products = ReadProducts(self.uow, cache=self.cache)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        if self.store_down:
            raise ConnectionError("store down")
        self.store_reads += 1
        return self.store.unit_of_work(read_only=read_only)

    def send(self, partner: str, *items: dict[str, Any], mode: FeedMode = FeedMode.UPSERT) -> None:
        body = io.BytesIO(json.dumps({"products": list(items)}, default=str).encode())
        done = self.ingest(FeedSubmission(partner_id=partner, body=body, format="json", feed_mode=mode))
        assert not done.errors, done


def item(sku: str = "SKU-1", **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"P {sku}", "price": 10, "currency": "EUR", "quantity": 1, **changes}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


def test_an_update_through_ingest_is_read_within_the_lag(catalog: Catalog) -> None:
    catalog.send("acme", item(price=10))
    catalog.cache.follow()
    assert catalog.products.get("acme", "SKU-1").price == Decimal("10.00")  # miss: filled
    assert catalog.products.get("acme", "SKU-1").price == Decimal("10.00")  # hit
    assert (catalog.cache.stats().hits, catalog.cache.stats().misses) == (1, 1)

    catalog.send("acme", item(price=12))
    # Until the follower's next step, this instance has not seen the change: within the lag,
    # the cached product may still be served.
    catalog.clock.advance(LAG / 2)
    assert catalog.products.get("acme", "SKU-1").price == Decimal("10.00")
    # The follower's step (every quarter of the lag) invalidates it: the next read is the update.
    assert catalog.cache.follow() == 1
    assert catalog.products.get("acme", "SKU-1").price == Decimal("12.00")
    assert catalog.cache.stats().invalidated == 1


def test_a_follower_that_stopped_stepping_stops_cache_reads_after_the_lag(catalog: Catalog) -> None:
    catalog.send("acme", item(price=10))
    catalog.cache.follow()
    catalog.products.get("acme", "SKU-1")
    catalog.send("acme", item(price=12))
    catalog.clock.advance(LAG)  # exactly the lag: still within the bound
    assert catalog.products.get("acme", "SKU-1").price == Decimal("10.00")
    catalog.clock.advance(0.001)  # past it, with no step since: the store answers
    assert catalog.products.get("acme", "SKU-1").price == Decimal("12.00")
    stats = catalog.cache.stats()
    assert stats.bypassed == 1 and not stats.serving and stats.follower_age == pytest.approx(LAG + 0.001)


def test_a_retired_product_vanishes_and_is_read_with_retired(catalog: Catalog) -> None:
    catalog.send("acme", item("SKU-1"), item("SKU-2"), item("SKU-3"), item("SKU-4"), item("SKU-5"))
    catalog.cache.follow()
    assert catalog.products.get("acme", "SKU-2").sku == "SKU-2"
    catalog.send("acme", item("SKU-1"), item("SKU-3"), item("SKU-4"), item("SKU-5"), mode=FeedMode.SNAPSHOT)
    catalog.cache.follow()
    with pytest.raises(NotFoundError):
        catalog.products.get("acme", "SKU-2")
    assert catalog.products.get("acme", "SKU-2", retired=True).sku == "SKU-2"
    with pytest.raises(NotFoundError):  # and a miss for an absent product is not cached
        catalog.products.get("acme", "SKU-2")
    assert len(catalog.lru) == 0


def test_partners_never_read_each_others_products(catalog: Catalog) -> None:
    catalog.send("acme", item("SKU-1", name="Acme mug"))
    catalog.send("globex", item("SKU-1", name="Globex mug"))
    catalog.send("globex", item("ONLY-GLOBEX"))
    catalog.cache.follow()
    for _ in range(2):  # a miss, then a hit, for each
        assert catalog.products.get("acme", "SKU-1").name == "Acme mug"
        assert catalog.products.get("globex", "SKU-1").name == "Globex mug"
    catalog.products.get("globex", "ONLY-GLOBEX")
    with pytest.raises(NotFoundError):
        catalog.products.get("acme", "ONLY-GLOBEX")


def test_the_effective_price_is_computed_at_each_read_from_the_cached_product(catalog: Catalog) -> None:
    start = datetime(2026, 11, 27, 8, tzinfo=UTC)
    catalog.send(
        "acme",
        item(
            price=10,
            sale_price=7.5,
            sale_starts_at=start.isoformat(),
            sale_ends_at=(start + timedelta(hours=4)).isoformat(),
        ),
    )
    catalog.cache.follow()
    catalog.products.get("acme", "SKU-1")
    during, after = (catalog.products.get("acme", "SKU-1") for _ in range(2))
    assert catalog.cache.stats().hits == 2
    assert during.price_at(start + timedelta(hours=1)) == Decimal("7.50")
    assert after.price_at(start + timedelta(hours=4)) == Decimal("10.00")


def test_a_failed_step_stops_cache_reads_at_once_and_the_next_starts_afresh(catalog: Catalog) -> None:
    catalog.send("acme", item(price=10))
    catalog.cache.follow()
    catalog.products.get("acme", "SKU-1")
    assert len(catalog.lru) == 1
    catalog.store_down = True
    with pytest.raises(ConnectionError):
        catalog.cache.follow()
    assert not catalog.cache.serving()
    catalog.store_down = False
    catalog.send("acme", item(price=12))
    assert catalog.products.get("acme", "SKU-1").price == Decimal("12.00")  # bypassed
    catalog.cache.follow()  # from the feed's end, the cache emptied (invalidations may be lost)
    assert catalog.cache.serving() and len(catalog.lru) == 0
    assert catalog.products.get("acme", "SKU-1").price == Decimal("12.00")


def test_a_fill_that_raced_a_change_is_refused(catalog: Catalog) -> None:
    """A reader loads v1; meanwhile v2 commits and the follower invalidates; v1 is not cached."""
    catalog.send("acme", item(price=10))
    catalog.cache.follow()
    old = catalog.products.get("acme", "SKU-1", retired=False)

    def slow_load() -> Product | None:
        catalog.send("acme", item(price=12))
        catalog.cache.follow()
        return old  # what the reader read before the change committed

    catalog.lru.reset()
    assert catalog.cache.read("acme", "SKU-1", slow_load) == old
    assert len(catalog.lru) == 0
    assert catalog.products.get("acme", "SKU-1").price == Decimal("12.00")


def test_without_a_first_step_the_cache_is_never_read(catalog: Catalog) -> None:
    catalog.send("acme", item())
    for _ in range(3):
        catalog.products.get("acme", "SKU-1")
    stats = catalog.cache.stats()
    assert (stats.hits, stats.misses, stats.bypassed, stats.serving) == (0, 0, 3, False)
    assert stats.follower_age is None and len(catalog.lru) == 0


def test_the_follower_starts_at_the_feeds_end(catalog: Catalog) -> None:
    catalog.send("acme", *(item(f"SKU-{n}") for n in range(50)))
    assert catalog.cache.follow() == 0  # history is not replayed: the cache starts empty
    catalog.send("acme", item("SKU-1", price=11))
    assert catalog.cache.follow() == 1


def test_serve_runs_the_follower_first_when_the_cache_is_on(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", product_cache=True, parser_processes=0)
    app = bootstrap.build(settings)
    try:
        assert [type(s).__name__ for s in background_services(app)] == [
            "BackgroundCacheFollower",
            "BackgroundWorker",
            "BackgroundScheduler",
        ]
        follower = background_cache_follower(app)
        assert follower is not None and app.product_cache is not None
        follower.start()  # its first step is taken at once: the cache serves from the first request
        assert app.product_cache.serving()
        follower.stop()
    finally:
        app.close()
    off = bootstrap.build(attrs.evolve(settings, product_cache=False))
    try:
        assert off.product_cache is None and background_cache_follower(off) is None
    finally:
        off.close()


def test_the_follower_loop_logs_an_outage_once_and_its_end(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    follower = CacheFollower(catalog.cache)
    catalog.store_down = True
    with caplog.at_level(logging.WARNING, logger="partner_ingest.product_cache"):
        assert [follower.run_once() for _ in range(3)] == [False, False, False]
        catalog.store_down = False
        assert follower.run_once()
    assert [r.getMessage().split(" (")[0].split(";")[0] for r in caplog.records] == [
        "product cache: cannot follow the change feed",
        "product cache: following the change feed again",
    ]


def test_build_takes_a_product_cache_of_an_embedders_own(tmp_path: Path) -> None:
    mine = InProcessProductCache(3)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", parser_processes=0)
    app = bootstrap.build(settings, product_cache=mine)
    try:
        assert app.product_cache is not None
        with app.uow() as uow:
            uow.partners.add(Partner(id="acme", name="acme", created_at=app.clock.now()))
            uow.products.upsert([Product("acme", "A", "Mug", Decimal("2.00"), "EUR", 1).to_row()])
            uow.commit()
        app.product_cache.follow()
        app.products.get("acme", "A")
        assert isinstance(mine.lookup("acme", "A"), Product)
    finally:
        app.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PRODUCT_CACHE_LAG_SECONDS", "0"), ("PRODUCT_CACHE_SIZE", "0"), ("PRODUCT_CACHE", "maybe")],
)
def test_the_cache_settings_are_checked_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"PARTNER_INGEST_{variable}"):
        Settings.from_env({f"PARTNER_INGEST_{variable}": value})


def test_the_cache_settings_are_read_from_the_environment() -> None:
    env = {"PARTNER_INGEST_PRODUCT_CACHE": "true", "PARTNER_INGEST_PRODUCT_CACHE_LAG_SECONDS": "0.5"}
    settings = Settings.from_env({**env, "PARTNER_INGEST_PRODUCT_CACHE_SIZE": "500"})
    assert (settings.product_cache, settings.product_cache_lag_seconds, settings.product_cache_size) == (
        True,
        0.5,
        500,
    )
