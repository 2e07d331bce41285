"""The product cache's staleness bound under concurrency (ADR 0017), on SQLite, in process and with Redis.

A writer raises the quantity of a few hot products, commit after commit, noting when
each commit returned; readers read them through `ReadProducts` all the while; the
follower steps in its own thread as `serve` runs it. Every read started at time r
must return a quantity at least that of the last commit that returned before
r - lag: the bound, with fills racing invalidations all along. Real threads and the
real clock (a short lag), checked after the run, so nothing is timed but the bound.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.examples import thorough
from support.redis import redis_prefix, redis_url

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.background import background_cache_follower
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.product import Product

LAG = 0.2
SKUS = [f"HOT-{n}" for n in range(4)]
# How long the readers race the writer: 2 s under CI's thorough profile (support/examples.py);
# 0.8 s locally, where the readers' spinning is most of this file's CPU: still three lags'
# worth of reads, hundreds of them, each checked against the bound.
SECONDS = 2.0 if thorough() else 0.8


@pytest.fixture(params=["memory", pytest.param("memory+redis", marks=pytest.mark.redis)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Application]:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'bound.db'}",
        "product_cache": True,
        "product_cache_lag_seconds": LAG,
        "parser_processes": 0,
    }
    if request.param == "memory+redis":
        url = redis_url()
        prefix = request.getfixturevalue("shared_prefix")
        values.update(redis_url=url, redis_prefix=prefix)
    application = bootstrap.build(Settings(**values))  # type: ignore[arg-type]
    yield application
    application.close()


@pytest.fixture
def shared_prefix() -> Iterator[str]:
    with redis_prefix(redis_url()) as prefix:
        yield prefix


def write(app: Application, quantity: int) -> None:
    with app.uow() as uow:
        uow.products.upsert(
            [Product("acme", sku, "Hot", Decimal("10.00"), "EUR", quantity).to_row() for sku in SKUS]
        )
        uow.commit()


def test_no_read_is_older_than_the_commits_before_it_minus_the_lag(app: Application) -> None:
    with app.uow() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=app.clock.now()))
        uow.commit()
    write(app, 0)
    follower = background_cache_follower(app)
    assert follower is not None and app.product_cache is not None
    follower.start()
    committed: list[tuple[float, int]] = [(time.monotonic(), 0)]
    reads: list[tuple[float, int]] = []
    stop = threading.Event()

    def writer() -> None:
        quantity = 0
        while not stop.is_set():
            quantity += 1
            write(app, quantity)
            committed.append((time.monotonic(), quantity))
            time.sleep(0.003)

    def reader(n: int) -> None:
        mine: list[tuple[float, int]] = []
        while not stop.is_set():
            started = time.monotonic()
            mine.append((started, app.products.get("acme", SKUS[len(mine) % len(SKUS)]).quantity))
        reads.extend(mine)

    threads = [
        threading.Thread(target=writer),
        *(threading.Thread(target=reader, args=(n,)) for n in range(3)),
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        follower.stop()

    stats = app.product_cache.stats()
    assert stats.hits > 0 and stats.invalidated > 0, stats  # the cache was read, and kept current
    times = [at for at, _ in committed]
    late = []
    for started, quantity in reads:
        # The last commit that had returned before `started - LAG`: the read must be at least it.
        index = bisect.bisect_right(times, started - LAG) - 1
        if index >= 0 and quantity < committed[index][1]:
            late.append((round(started - committed[index][0], 3), quantity, committed[index][1]))
    assert not late, f"{len(late)} of {len(reads)} reads older than the bound: {late[:5]}"
    assert len(reads) > 50 and committed[-1][1] > 5, (len(reads), committed[-1])
