"""The public test helpers (T1): isolated database, seeded partner and key, one job processed."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from partner_ingest.adapters_in.bootstrap import wire
from partner_ingest.adapters_in.secrets_file import ServiceSecrets
from partner_ingest.adapters_in.worker import process_next_job_once
from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.adapters_out.sqlite.testing import create_test_db, seed_partner, seed_partner_and_key
from partner_ingest.domain.model import KeyRole
from partner_ingest.domain.use_cases import FeedSubmission

SECRET = b"k" * 32


def test_create_seed_enqueue_process_once_and_assert(tmp_path: Path) -> None:
    store = create_test_db(tmp_path / "t1.db")
    partner, key = seed_partner_and_key(store, "acme", server_secret=SECRET, default_version=2)
    assert partner.default_version == 2
    app = wire(
        store.unit_of_work, store.audit_log, secrets_=ServiceSecrets(SECRET, (FernetVault.generate_key(),))
    )
    granted = app.guard.require(key, "127.0.0.1", role=KeyRole.PARTNER)
    assert granted.principal.partner_id == "acme"

    body = b'{"products": [{"sku": "T-1", "name": "Tested", "price": 1, "currency": "EUR", "quantity": 2}]}'
    app.submit_job(
        FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="json"),
        body_bytes=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
    )
    result = process_next_job_once(app)

    assert result is not None
    with store.unit_of_work() as uow:
        product = uow.products.get("acme", "T-1")
    assert product is not None and product.quantity == 2
    store.close()


def test_every_test_db_is_its_own_file() -> None:
    first, second = create_test_db(), create_test_db()
    assert first.path != second.path
    seed_partner(first, "only-here")
    with second.unit_of_work() as uow:
        assert uow.partners.get("only-here") is None
    first.close()
    second.close()
