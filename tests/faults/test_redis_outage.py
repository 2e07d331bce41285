"""Fault: Redis stopped while partner requests flow, then started again (ADR 0028, ADR 0015).

A private `redis-server` on a free loopback port (no persistence) backs a real
server's rate limits. While it is down, `/readyz` answers 503 naming Redis, and
partner requests fail closed with 503 `rate_limiter_unavailable` in the API's
error shape (never a 500, never a 429 that would blame the client). Once Redis
is back, everything serves again with no operator action.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx2
import pytest
from support.service import Service, serving

JSONL = "application/x-ndjson"
FEED = b'{"sku": "R-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 1}\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server process of this test's own, stopped and started on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("the Redis fault needs the redis-server binary (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def ingest(service: Service, client: httpx2.Client, key: str) -> httpx2.Response:
    return client.post(
        "/partner/ingest", content=FEED, headers={"Content-Type": JSONL, "Authorization": f"Bearer {key}"}
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # each wait ends within 20 ms of what it waits for, not 100


def test_redis_stopped_mid_run_fails_closed_with_503_and_recovers_alone(tmp_path: Path) -> None:
    with private_redis(tmp_path) as redis, serving(tmp_path / "svc.db", redis_url=redis.url) as service:
        admin = service.admin_key()
        _, key = service.partner(admin)
        client = service.client()
        assert client.get("/readyz").status_code == 200
        assert ingest(service, client, key).status_code == 200

        # Requests flow from another thread through the whole outage and the recovery.
        seen: Counter[int] = Counter()
        bodies: list[dict[str, object]] = []
        flowing = threading.Event()
        flowing.set()

        def flow() -> None:
            flow_client = service.client()
            while flowing.is_set():
                answer = ingest(service, flow_client, key)
                seen[answer.status_code] += 1
                if answer.status_code != 200:
                    bodies.append(answer.json())
                time.sleep(0.02)

        flow_thread = threading.Thread(target=flow)
        flow_thread.start()
        try:
            wait_until(lambda: seen[200] >= 1, 10, "the flow's first answer")  # flowing before the outage
            redis.stop()

            def not_ready() -> bool:
                return client.get("/readyz").status_code == 503

            wait_until(not_ready, 10, "/readyz to report the outage")
            ready = client.get("/readyz").json()
            assert ready["error"] == "not_ready" and ready["details"]["redis"] == "unreachable"
            assert ready["details"]["database"] == "reachable"

            refused = ingest(service, client, key)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"] == "rate_limiter_unavailable"
            assert "rate-limit store" in refused.json()["details"]["message"]

            redis.start()  # the same port: no operator touches the service
            wait_until(lambda: client.get("/readyz").status_code == 200, 15, "/readyz to recover")
            wait_until(lambda: ingest(service, client, key).status_code == 200, 15, "ingest to recover")
            recovered = seen[200]
            wait_until(lambda: seen[200] > recovered, 10, "the flow to be answered again")
        finally:
            flowing.clear()
            flow_thread.join(30)

        assert set(seen) <= {200, 503}, seen
        assert seen[503] >= 1 and seen[200] >= 2, seen
        assert {body["error"] for body in bodies} == {"rate_limiter_unavailable"}
        throttled = service.audit("action = 'auth.throttled'")
        assert throttled and {entry["details"]["reason"] for entry in throttled} == {"limiter_unavailable"}


def test_a_redis_outage_sends_cached_product_reads_to_the_store_and_the_cache_recovers(
    tmp_path: Path,
) -> None:
    """The product cache in Redis (ADR 0017): while Redis is down, reads go to the store (the
    follower cannot apply invalidations, so the cache is not read at all), never an error;
    once it is back the follower empties the cache and reads hit again."""
    from partner_ingest.adapters_in.cache_follower import CacheFollower

    with (
        private_redis(tmp_path) as redis,
        serving(tmp_path / "svc.db", redis_url=redis.url, product_cache=True) as service,
    ):
        admin = service.admin_key()
        partner, key = service.partner(admin)
        client = service.client()
        assert ingest(service, client, key).status_code == 200
        cache = service.app.product_cache
        assert cache is not None
        follower = CacheFollower(cache)
        assert follower.run_once()
        products = service.app.products
        assert products.get(partner, "R-1").quantity == 1
        assert products.get(partner, "R-1").quantity == 1
        assert (cache.stats().misses, cache.stats().hits) == (1, 1)

        redis.stop()
        assert products.get(partner, "R-1").quantity == 1  # a miss that cannot fill: the store
        with service.app.uow() as uow:  # a change whose invalidation cannot reach Redis
            stored = uow.products.get(partner, "R-1")
            assert stored is not None
            uow.products.upsert([attrs.evolve(stored, quantity=7).to_row()])
            uow.commit()
        assert not follower.run_once()  # so cache reads stop at once
        assert not cache.serving()
        assert products.get(partner, "R-1").quantity == 7
        # Over HTTP, an admin's read answers from the store or refuses by the limiter's policy: never a 500.
        answer = client.get(f"/admin/partners/{partner}/products/R-1", headers={"X-API-Key": admin})
        assert answer.status_code in (200, 503), answer.text

        redis.start()
        wait_until(follower.run_once, 10, "the follower to reach Redis again")
        assert cache.serving()
        assert [products.get(partner, "R-1").quantity for _ in range(2)] == [7, 7]
        assert cache.stats().hits >= 2
