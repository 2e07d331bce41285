"""PostgreSQL-only behaviour: what the adapter adds beyond the storage contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from support.postgres import postgres_store

from partner_ingest.domain.model import Partner

if TYPE_CHECKING:
    from partner_ingest.adapters_out.postgres.store import PostgresStore


@pytest.fixture
def pg() -> Iterator[PostgresStore]:
    """A store in a schema of its own with partner `acme`; the schema is dropped afterwards."""
    with postgres_store() as store:
        with store.unit_of_work() as uow:
            uow.partners.add(Partner(id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
            uow.commit()
        yield store
