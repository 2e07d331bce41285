"""Scheduler processes share one circuit per partner feed, and the HTTP instance shows it (ADR 0014).

`partner-ingest scheduler --once` runs as real processes, one after the other, on the
SQLite file a running server uses; the server itself never fetches. The partner's
endpoint answers 500. Two scheduler processes fail once each: their failures are one
run, so the circuit opens, and `/admin/circuits` and `/metrics` of the server say so.
A third scheduler process, started after that, finds the circuit open and skips the
pull without a request.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import attrs
import httpx2
import pytest
from support.feeds import Reply, feed_server
from support.http import admin_key, e2e_settings, new_partner, running_server, tls
from support.processes import run
from support.workers import settings_env

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model import AuditAction, AuditQuery

pytestmark = pytest.mark.slow

BREAKER = {"fetch_allow_networks": "127.0.0.0/8", "breaker_failures": 2, "breaker_reset_seconds": 3600.0}


def make_due(app: Application) -> None:
    with app.uow() as uow:
        for schedule in uow.schedules.all():
            uow.schedules.update(attrs.evolve(schedule, next_run_at=app.clock.now() - timedelta(seconds=1)))
        uow.commit()


def test_scheduler_processes_share_one_circuit_that_the_admin_view_shows_and_a_restart_keeps(
    tmp_path: Path,
) -> None:
    database = tmp_path / "shared.db"
    app = bootstrap.build(e2e_settings(str(database), **BREAKER))
    env = settings_env(f"sqlite:///{database}", **{name: str(value) for name, value in BREAKER.items()})
    try:
        with (
            feed_server({"/catalog.json": Reply(500, b"down", "text/plain")}) as site,
            running_server(app) as url,
            httpx2.Client(verify=tls(), base_url=url, timeout=30) as client,
        ):
            as_admin = {"X-API-Key": admin_key(app)}
            partner, _ = new_partner(client, as_admin["X-API-Key"], endpoint=site.url("/catalog.json"))
            created = client.post(
                f"/admin/partners/{partner}/schedules", json={"interval_seconds": 600}, headers=as_admin
            )
            assert created.status_code == 201, created.text

            def scheduler_process() -> None:
                make_due(app)
                done = run(env, "scheduler", "--once")
                assert done.returncode == 0, done.stderr

            scheduler_process()
            scheduler_process()
            assert site.hits("/catalog.json") == 2
            circuits = client.get("/admin/circuits", headers=as_admin)
            metrics = client.get("/metrics").text

            assert circuits.status_code == 200, circuits.text
            [circuit] = [c for c in circuits.json()["circuits"] if c["endpoint"] == site.base_url]
            assert circuit["state"] == "open" and circuit["failures"] == 2
            assert circuit["partner_id"] == partner and circuit["next_probe_at"] is not None
            assert re.search(r'^partner_ingest_fetch_circuits\{state="open"\} 1\.0$', metrics, re.MULTILINE)

            scheduler_process()  # started after the circuit opened: it knows at once
            assert site.hits("/catalog.json") == 2
            entries = app.audit.query(AuditQuery(partner_id=partner, limit=10))
            actions = [e.action for e in reversed(entries) if e.action.value.startswith("fetch")]
            assert actions == [AuditAction.FETCH, AuditAction.FETCH, AuditAction.FETCH_SKIPPED]
    finally:
        app.close()
