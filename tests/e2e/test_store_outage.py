"""A store that cannot serve (PostgreSQL restarting, a pool with no free connection)
answers 503 with Retry-After over real HTTP, in the API's error shape, without the
operator's details (which database, which pool), and the service serves again once
the store is back. The outage is a unit-of-work factory that raises what the
PostgreSQL store raises then (tests/integration/postgres/test_store.py shows it does).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from support.http import admin_key, running_server, tls

from partner_ingest.adapters_in.bootstrap import Application, wire
from partner_ingest.adapters_in.secrets_file import fresh_secrets
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.store_errors import StoreBusyError, StoreUnreachableError
from partner_ingest.domain.model.errors import UnavailableError
from partner_ingest.ports import UnitOfWork


class Outage:
    """The in-memory store's units of work, or `error` while one is set."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.error: UnavailableError | None = None

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        if self.error is not None:
            raise self.error
        return self._store.unit_of_work(read_only=read_only)


@pytest.fixture
def outage() -> Iterator[tuple[Application, Outage]]:
    store = InMemoryStore()
    failing = Outage(store)
    app = wire(failing, store.audit_log, secrets_=fresh_secrets(), clock=FakeClock(), ids=SequentialIds())
    yield app, failing
    app.close()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            StoreUnreachableError("lost the connection to PostgreSQL at db.internal:5432/catalog"),
            "store_unreachable",
        ),
        (StoreBusyError("no free connection to PostgreSQL at db.internal:5432 (pool of 10)"), "store_busy"),
    ],
)
def test_a_store_that_cannot_serve_answers_503_then_serves_again(
    outage: tuple[Application, Outage], error: UnavailableError, code: str
) -> None:
    app, failing = outage
    key = admin_key(app)
    with running_server(app) as base:
        failing.error = error
        answer = httpx2.get(f"{base}/admin/partners", verify=tls(), headers={"X-API-Key": key}, timeout=10)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        body = answer.json()
        assert body["error"] == code and "retry" in body["details"]["message"]
        assert "db.internal" not in answer.text and "pool of" not in answer.text
        failing.error = None
        assert (
            httpx2.get(
                f"{base}/admin/partners", verify=tls(), headers={"X-API-Key": key}, timeout=10
            ).status_code
            == 200
        )
