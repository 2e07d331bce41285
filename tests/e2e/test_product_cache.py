"""The read-through product cache end to end (ADR 0017): real servers, real stores, real Redis.

- One server on SQLite with the in-process cache and its follower (as `serve` runs
  them): repeated reads of a product are hits in /metrics, `?at=` prices each read
  from the cached product, an update sent through ingest is read within the lag, a
  retired product vanishes.
- Two `serve` processes sharing PostgreSQL and Redis (the scale-out deployment, as
  tests/e2e/test_scale_out.py starts it): a product read (and cached) through
  instance 2, then updated through instance 1, is read as updated through instance 2
  within the lag; both instances' /metrics counters move.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support import cli
from support.http import admin_key, e2e_settings, new_partner, running_server, tls
from support.postgres import postgres_database, postgres_url
from support.processes import Process
from support.redis import redis_prefix, redis_url

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.background import background_cache_follower

JSONL = "application/x-ndjson"
V2 = {"Content-Type": JSONL, "X-Feed-Version": "2"}
LAG = 1.0
START = datetime.now(UTC) - timedelta(hours=1)
END = START + timedelta(hours=4)


def feed(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def item(sku: str = "HOT-1", price: float = 10, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "name": f"Hot {sku}", "price": price, "currency": "EUR", "quantity": 5, **fields}


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} not in /metrics"
    return float(found.group(1))


def caught_up(client: httpx2.Client, since: float, timeout: float = LAG + 10) -> None:
    """Wait until the instance's follower has reached the change feed's end in a step begun after
    `since` (a monotonic instant, taken once the ingest was answered): its changes are applied, so
    a later read's hit or miss is the cache's and not the follower's late invalidation."""
    name = "partner_ingest_product_cache_follower_age_seconds"
    while True:
        waited = time.monotonic() - since
        age = metric(client.get("/metrics").text, name)
        if 0 <= age < waited:
            return
        assert waited < timeout, f"{client.base_url}: the follower never caught up (age {age})"
        time.sleep(0.02)


def read_until(client: httpx2.Client, path: str, wanted: str, timeout: float) -> float:
    """Poll until the product's price is `wanted`; when (seconds from now) the last request that
    still read another price was sent: the staleness bound says it is at most the lag."""
    started = time.monotonic()
    last_stale = 0.0
    while True:
        sent = time.monotonic() - started
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        if answer.json()["price"] == wanted:
            return last_stale
        last_stale = sent
        assert sent < timeout, f"still {answer.json()['price']} after {timeout} s"
        time.sleep(0.02)


def test_hot_reads_hit_the_cache_and_an_update_is_read_within_the_lag(tmp_path: Path) -> None:
    settings = e2e_settings(
        str(tmp_path / "svc.db"),
        product_cache=True,
        product_cache_lag_seconds=LAG,
        rate_limit_per_minute=100_000,
    )
    app = bootstrap.build(settings)
    follower = background_cache_follower(app)
    assert follower is not None
    try:
        with (
            running_server(app, services=[follower]) as url,
            httpx2.Client(verify=tls(), base_url=url, timeout=30) as client,
        ):
            admin = admin_key(app)
            partner, key = new_partner(client, admin)
            auth = {"Authorization": f"Bearer {key}"}
            sale: dict[str, Any] = {
                "sale_price": 7.5,
                "sale_starts_at": START.isoformat(),
                "sale_ends_at": END.isoformat(),
            }
            sent = client.post(
                "/partner/ingest",
                content=feed(item(**sale), item("HOT-2"), item("HOT-3"), item("HOT-4"), item("HOT-5")),
                headers={**auth, **V2},
            )
            assert sent.status_code == 200 and sent.json()["counts"]["created"] == 5, sent.text
            caught_up(client, time.monotonic())
            path = "/partner/products/HOT-1"
            before = client.get("/metrics").text
            now, later = datetime.now(UTC), END + timedelta(minutes=1)
            answers = [
                client.get(path, params={"at": at.isoformat()}, headers=auth) for at in (now, later, now)
            ]
            assert [a.json().get("effective_price") for a in answers] == ["7.50", "10.00", "7.50"], [
                a.text for a in answers
            ]
            admin_read = client.get(f"/admin/partners/{partner}/products/HOT-1", headers={"X-API-Key": admin})
            assert admin_read.status_code == 200 and admin_read.json()["sku"] == "HOT-1"
            after = client.get("/metrics").text
            name = "partner_ingest_product_cache"
            moved = {
                counter: metric(after, f"{name}_{counter}_total") - metric(before, f"{name}_{counter}_total")
                for counter in ("hits", "misses", "bypassed")
            }
            # One miss, then hits; a read is only bypassed if the follower stalled past the lag.
            assert sum(moved.values()) == 4 and moved["hits"] >= 1 and moved["misses"] <= 1, moved
            assert metric(after, f"{name}_serving") == 1 or moved["bypassed"] > 0

            client.headers.update(auth)
            updated = client.post("/partner/ingest", content=feed(item(price=12, **sale)), headers=V2)
            assert updated.status_code == 200, updated.text
            last_stale = read_until(client, path, "12.00", timeout=LAG + 2)
            assert last_stale <= LAG, last_stale
            deadline = time.monotonic() + LAG + 10  # already applied, unless the follower stalled
            while metric(client.get("/metrics").text, f"{name}_invalidations_total") < 1:
                assert time.monotonic() < deadline, "the follower never invalidated the update"
                time.sleep(0.02)

            # A snapshot without HOT-5 retires it: it vanishes from cached reads.
            assert client.get("/partner/products/HOT-5").status_code == 200
            snapshot = client.post(
                "/partner/ingest",
                content=feed(item(price=12, **sale), item("HOT-2"), item("HOT-3"), item("HOT-4")),
                headers={**V2, "X-Feed-Mode": "snapshot"},
            )
            assert snapshot.status_code == 200 and snapshot.json()["counts"]["retired"] == 1, snapshot.text
            deadline = time.monotonic() + LAG + 2
            while client.get("/partner/products/HOT-5").status_code != 404:
                assert time.monotonic() < deadline, "the retired product is still served"
                time.sleep(0.02)
            assert client.get("/partner/products/HOT-5", params={"retired": "true"}).status_code == 200
    finally:
        app.close()


# --- two instances sharing PostgreSQL and Redis --------------------------------------------------


def _env(database_url: str, redis: str, prefix: str, home: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_DATABASE_URL": database_url,
        "PARTNER_INGEST_REDIS_URL": redis,
        "PARTNER_INGEST_REDIS_PREFIX": prefix,
        "PARTNER_INGEST_KEY_HASH_SECRET": secrets.token_urlsafe(48),
        "PARTNER_INGEST_VAULT_KEYS": Fernet.generate_key().decode(),
        "PARTNER_INGEST_PRODUCT_CACHE": "true",
        "PARTNER_INGEST_PRODUCT_CACHE_LAG_SECONDS": str(LAG),
        "PARTNER_INGEST_RATE_LIMIT_PER_MINUTE": "100000",
    }


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two `serve` processes on one PostgreSQL schema and one Redis prefix: (urls, partner key)."""
    postgres_url()
    redis = redis_url()
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        prefix = stack.enter_context(redis_prefix(redis))
        env = _env(database_url, redis, prefix, tmp_path)
        assert cli.run(env, "migrate").returncode == 0
        # The operator's key first, as the deployment guide has it (so no instance makes a
        # first-start key); then both instances start while the CLI makes the partner and its
        # key, which nothing sent to them needs before the key exists.
        made = cli.run(env, "keys", "create", "--admin", "--label", "operator", "--json")
        assert made.returncode == 0, made.stderr
        serves = [
            Process.start(
                f"serve-{n}", ["serve", "--host", "127.0.0.1", "--port", "0"], env, tmp_path / "logs"
            )
            for n in range(2)
        ]
        try:
            assert cli.run(env, "partners", "add", "acme", "--name", "Acme").returncode == 0
            made = cli.run(env, "keys", "create", "--partner", "acme", "--json")
            assert made.returncode == 0, made.stderr
            key = json.loads(made.stdout)["api_key"]
            urls = [p.wait_for_output(r"^partner-ingest: serving (http://\S+) on ").group(1) for p in serves]
            yield urls, key
        except BaseException:
            print("\n\n".join(p.tail() for p in serves))
            raise
        finally:
            for process in serves:
                process.signal_stop()
            codes = [process.wait() for process in serves]
            assert codes == [0, 0], "\n\n".join(p.tail() for p in serves)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_an_ingest_through_one_instance_is_read_through_the_other_within_the_lag(
    two_instances: tuple[list[str], str],
) -> None:
    urls, key = two_instances
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx2.Client(verify=tls(), base_url=urls[0], headers=headers, timeout=30) as first,
        httpx2.Client(verify=tls(), base_url=urls[1], headers=headers, timeout=30) as second,
    ):
        sent = first.post("/partner/ingest", content=feed(item(price=10)), headers=V2)
        assert sent.status_code == 200, sent.text
        answered = time.monotonic()
        for client in (first, second):
            caught_up(client, answered)
        path = "/partner/products/HOT-1"
        read_until(second, path, "10.00", timeout=LAG + 2)  # the follower may start after the write
        for _ in range(5):  # a miss then hits: the product now sits in Redis
            assert second.get(path).json()["price"] == "10.00"
        assert first.get(path).json()["price"] == "10.00"  # instance 1 finds what instance 2 put

        updated = first.post("/partner/ingest", content=feed(item(price=12)), headers=V2)
        assert updated.status_code == 200, updated.text
        last_stale = read_until(second, path, "12.00", timeout=LAG + 2)
        assert last_stale <= LAG, last_stale

        # The counters of both instances moved. A read is bypassed (to the store) whenever its
        # instance's follower stalled past the lag, as a loaded machine can make it: counted too.
        name = "partner_ingest_product_cache"

        def counts(client: httpx2.Client) -> dict[str, float]:
            text = client.get("/metrics").text
            return {
                c: metric(text, f"{name}_{c}_total") for c in ("hits", "misses", "bypassed", "invalidations")
            }

        one, two = counts(first), counts(second)
        # Every read of instance 2 is counted once: at least one per read_until and the five
        # between them (seven when its follower drops the stale entry before the first re-read).
        assert two["hits"] >= 1 and two["hits"] + two["misses"] + two["bypassed"] >= 7, two
        assert one["hits"] == 1 or one["bypassed"] == 1, one  # its one read: what instance 2 put in Redis
        # Each instance's follower applies the change itself (whichever came first dropped the
        # shared entry), and serves again.
        deadline = time.monotonic() + LAG + 10
        for client in (first, second):
            while (
                counts(client)["invalidations"] < 1
                or metric(client.get("/metrics").text, f"{name}_serving") != 1
            ):
                assert time.monotonic() < deadline, f"{client.base_url} never invalidated"
                time.sleep(0.02)
