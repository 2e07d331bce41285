"""A schedule run now, over the admin API against a real server on loopback, and how each run
went kept on the schedule (outcome, error, job, time). No scheduler runs here: the runs are the
admin's, so a test knows exactly when each one happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support.feeds import Reply, feed_server
from support.http import e2e_settings, new_partner

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application

FEED = b'{"products": [{"sku": "R-1", "name": "Run now", "price": 5, "currency": "EUR", "quantity": 1}]}'


@pytest.fixture(scope="module")
def application(database: Path) -> Iterator[Application]:
    app = bootstrap.build(
        e2e_settings(str(database), fetch_allow_networks="127.0.0.0/8", fetch_timeout_seconds=5.0)
    )
    try:
        yield app
    finally:
        app.close()


def test_an_admin_runs_a_schedule_now_and_sees_how_each_run_went(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    as_admin = {"X-API-Key": admin}
    with feed_server({"/feed": Reply(200, FEED), "/broken": Reply(500, b"oops")}) as server:
        partner, _ = new_partner(client, admin, endpoint=f"{server.base_url}/feed")
        created = client.post(
            f"/admin/partners/{partner}/schedules", json={"cron": "0 3 * * *"}, headers=as_admin
        ).json()
        assert created["last_outcome"] is None and created["last_run_at"] is None
        due = created["next_run_at"]

        ran = client.post(f"/admin/schedules/{created['id']}/run", headers=as_admin)

        assert ran.status_code == 200, ran.text
        body = ran.json()
        assert body["outcome"] == "fetched" and body["job_id"]
        shown = client.get(f"/admin/schedules/{created['id']}", headers=as_admin).json()
        assert shown["last_outcome"] == "fetched" and shown["last_error"] is None
        assert shown["last_job_id"] == body["job_id"] and shown["last_run_at"]
        assert shown["next_run_at"] == due  # the 03:00 cadence goes on
        assert server.hits("/feed") == 1

        # The partner's endpoint now fails: the run says so, with why.
        patched = client.patch(
            f"/admin/partners/{partner}", json={"endpoint": f"{server.base_url}/broken"}, headers=as_admin
        )
        assert patched.status_code == 200, patched.text
        failed = client.post(f"/admin/schedules/{created['id']}/run", headers=as_admin).json()
        assert failed["outcome"] != "fetched" and failed["job_id"] is None
        assert failed["schedule"]["last_outcome"] == failed["outcome"]
        assert failed["schedule"]["last_error"] and failed["schedule"]["last_job_id"] is None

    audit = client.get(
        "/admin/audit", params={"action": "admin.action", "partner_id": partner}, headers=as_admin
    ).json()
    assert sum(1 for e in audit["entries"] if e["details"].get("schedule_run") == created["id"]) == 2
    missing = client.post("/admin/schedules/no-such-schedule/run", headers=as_admin)
    assert missing.status_code == 404
