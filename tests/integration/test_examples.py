"""The examples under examples/ work as they say (the TSV plugin's own tests run from
examples/ itself): the partner API mounted in a host Starlette service answers under its
prefix, beside the host's own routes, ingests a feed, and processes a feed sent as a job
with the worker its lifespan starts."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import attrs
import pytest
from support.http import TestClient

from partner_ingest.adapters_in.bootstrap import Application, in_memory
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_out.memory import InMemoryStore
from partner_ingest.domain.model import KeyRole, Partner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def embed() -> ModuleType:
    """examples/embed_starlette.py, loaded from its file as `python examples/...` would run it."""
    spec = importlib.util.spec_from_file_location("embed_starlette", EXAMPLES / "embed_starlette.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_partner_api_mounted_in_a_host_service_ingests_a_feed(embed: ModuleType) -> None:
    app, store, clock = in_memory()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    key = app.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext
    closed: list[bool] = []
    app = attrs.evolve(app, close=lambda: closed.append(True))
    feed = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'

    with TestClient(embed.create_service(app), base_url="http://127.0.0.1") as client:
        host = client.get("/")
        posted = client.post(
            f"{embed.PREFIX}/partner/ingest",
            content=feed,
            headers={"Content-Type": "application/json", "X-API-Key": key},
        )
        health = client.get(f"{embed.PREFIX}/healthz")
        outside = client.get("/partner/help")

    assert host.json() == {"service": "shop", "partner_api": "/catalog/partner/help"}
    assert posted.status_code == 200, posted.text
    assert posted.json()["counts"]["created"] == 1
    assert health.status_code == 200
    assert outside.status_code == 404  # the partner API lives under its prefix only
    with store.unit_of_work() as uow:
        assert uow.products.get("acme", "A-1") is not None
    assert closed == [True], "the host's lifespan closes the application at shutdown"


def _partner_with_key(app: Application, store: InMemoryStore) -> str:
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=app.clock.now()))
        uow.commit()
    return app.keys.create(KeyRole.PARTNER, "acme", actor="test").plaintext


def test_a_feed_sent_as_a_job_to_the_host_service_is_processed_by_its_worker(embed: ModuleType) -> None:
    app, store, _ = in_memory(settings=Settings(worker_poll_seconds=0.02, rate_limit_per_minute=1000))
    key = _partner_with_key(app, store)
    feed = b'{"products": [{"sku": "J-1", "name": "Jug", "price": 4, "currency": "EUR", "quantity": 1}]}'
    headers = {"Content-Type": "application/json", "X-API-Key": key}

    with TestClient(embed.create_service(app), base_url="http://127.0.0.1") as client:
        accepted = client.post(
            f"{embed.PREFIX}/partner/ingest", content=feed, headers={**headers, "Prefer": "respond-async"}
        )
        assert accepted.status_code == 202, accepted.text
        job_url = f"{embed.PREFIX}/partner/jobs/{accepted.json()['id']}"
        deadline = time.monotonic() + 10
        job = client.get(job_url, headers=headers).json()
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.02)
            job = client.get(job_url, headers=headers).json()

    assert job["status"] == "succeeded", job
    assert job["report"]["counts"]["created"] == 1
    with store.unit_of_work() as uow:
        assert uow.products.get("acme", "J-1") is not None
