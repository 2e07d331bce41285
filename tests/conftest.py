"""Shared pytest set-up: the hypothesis profiles and the in-memory application fixture."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from support.memory import MemoryApp

from partner_ingest.adapters_in.bootstrap import in_memory
from partner_ingest.domain.model import Partner, ValidationPolicy

# Quick by default, where a developer runs the suite again and again; CI (`.ci/run`)
# loads the thorough profile, so every property meets many more cases there.
settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def memory_app() -> MemoryApp:
    """The application on the in-memory store, with partner `acme` (v2 by default)."""
    app, store, clock = in_memory()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now(), default_version=2))
        uow.partners.add(
            Partner(
                id="lenient-co",
                name="Lenient Co",
                created_at=clock.now(),
                default_version=2,
                policy=ValidationPolicy(mode="lenient"),  # type: ignore[arg-type]
                allow_policy_override=True,
            )
        )
        uow.commit()
    return app, store, clock
