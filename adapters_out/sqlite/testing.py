"""Test helpers (T1, ADR 0012): an isolated database built from the migrations, and seeds.

Public, so embedders use them in their own suites::

    store = create_test_db()                     # a fresh temporary file, migrated
    seed_partner(store, "acme")
    partner, key = seed_partner_and_key(store, "globex", server_secret=secret)
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from partner_ingest.domain.model.api_keys import KeyRole, new_api_key
from partner_ingest.domain.model.partner import Partner

from .store import SqliteStore

__all__ = ["create_test_db", "seed_partner", "seed_partner_and_key"]


def create_test_db(path: str | Path | None = None) -> SqliteStore:
    """A freshly migrated SQLite store: at `path`, or in a new temporary directory."""
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="partner-ingest-test-")) / "test.db"
    return SqliteStore(path)


def seed_partner(store: SqliteStore, partner_id: str, **fields: Any) -> Partner:  # noqa: ANN401 - Partner's own fields
    """Store a partner (defaults: named after its id, created now) and return it."""
    partner = Partner(
        id=partner_id,
        name=fields.pop("name", partner_id.title()),
        created_at=fields.pop("created_at", datetime.now(UTC)),
        **fields,
    )
    with store.unit_of_work() as uow:
        uow.partners.add(partner)
        uow.commit()
    return partner


def seed_partner_and_key(
    store: SqliteStore,
    partner_id: str,
    *,
    server_secret: bytes,
    **fields: Any,  # noqa: ANN401 - Partner's own fields
) -> tuple[Partner, str]:
    """A partner and a usable API key for it; returns the key's plaintext (shown once)."""
    partner = seed_partner(store, partner_id, **fields)
    issued = new_api_key(KeyRole.PARTNER, secrets.token_bytes)
    with store.unit_of_work() as uow:
        uow.api_keys.add(issued.record(server_secret, partner_id=partner_id, created_at=datetime.now(UTC)))
        uow.commit()
    return partner, issued.plaintext
