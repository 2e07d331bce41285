"""Settings reach what they configure: `bootstrap.wire` passes each to its use case."""

from __future__ import annotations

from partner_ingest.adapters_in.bootstrap import in_memory
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases.access_errors import KeyRateLimited
from partner_ingest.domain.use_cases.authenticate import Granted


def test_an_admin_keys_quota_is_a_setting_of_its_own() -> None:
    settings = Settings.from_env(
        {"PARTNER_INGEST_ADMIN_RATE_LIMIT_PER_MINUTE": "2", "PARTNER_INGEST_RATE_LIMIT_PER_MINUTE": "50"}
    )
    app, _, _ = in_memory(settings=settings)
    key = app.keys.create(KeyRole.ADMIN, actor="test", label="ops").plaintext
    decisions = [app.guard.decide(key, "10.0.0.1", role=KeyRole.ADMIN) for _ in range(3)]
    assert [type(d) for d in decisions] == [Granted, Granted, KeyRateLimited]
