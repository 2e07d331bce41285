"""Admin job routes against a real server on loopback: list, inspect, retry a dead job (S3).

This module's server runs no worker: jobs are processed by `process_next_job_once`,
the deterministic hook (T1), so a job dies exactly when the test says so.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from support.feeds import JSONL, jsonl_feed
from support.http import new_address, new_partner, tls
from support.jobs import assert_conforms

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.worker import process_next_job_once
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases import JobOutcome

NEW_ADMIN_ROUTES = {
    ("get", "/admin/jobs"),
    ("get", "/admin/jobs/{job_id}"),
    ("post", "/admin/jobs/{job_id}/retry"),
    ("post", "/admin/jobs/{job_id}/cancel"),
    ("post", "/admin/jobs/dead/retry"),
    ("get", "/admin/circuits"),
    ("post", "/admin/partners/{partner_id}/schedules"),
    ("get", "/admin/partners/{partner_id}/schedules"),
    ("get", "/admin/schedules"),
    ("get", "/admin/schedules/{schedule_id}"),
    ("patch", "/admin/schedules/{schedule_id}"),
    ("delete", "/admin/schedules/{schedule_id}"),
    ("post", "/admin/schedules/{schedule_id}/run"),
}


@pytest.fixture
def openapi(client: httpx2.Client) -> dict[str, Any]:
    """The served OpenAPI document."""
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def submit(client: httpx2.Client, key: str, body: bytes) -> dict[str, Any]:
    """Send a feed as a job; the 202's job."""
    answer = client.post(
        "/partner/ingest?mode=async", content=body, headers={"X-API-Key": key, "Content-Type": JSONL}
    )
    assert answer.status_code == 202, answer.text
    job: dict[str, Any] = answer.json()
    return job


def drain(application: Application) -> None:
    """Process every job queued so far (other tests' too), so the next one processed is ours."""
    while process_next_job_once(application) is not None:
        pass


def gauge(client: httpx2.Client, status: str) -> float:
    """partner_ingest_jobs{status=...} as /metrics says now."""
    text = client.get("/metrics").text
    found = re.search(rf'^partner_ingest_jobs\{{status="{status}"\}} (\S+)$', text, re.MULTILINE)
    assert found is not None, f"no partner_ingest_jobs{{status={status!r}}} in /metrics"
    return float(found.group(1))


def stored_bodies(client: httpx2.Client) -> tuple[float, float]:
    """(partner_ingest_job_bodies, partner_ingest_job_body_bytes) as /metrics says now."""
    text = client.get("/metrics").text
    found = [
        re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        for name in ("partner_ingest_job_bodies", "partner_ingest_job_body_bytes")
    ]
    assert found[0] is not None and found[1] is not None, "no stored-body gauges in /metrics"
    return float(found[0].group(1)), float(found[1].group(1))


def test_metrics_count_the_stored_job_bodies_and_a_success_deletes_its_own(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    _, key = new_partner(client, admin)
    drain(application)
    count, size = stored_bodies(client)
    body = jsonl_feed(50, prefix="KEPT")
    job = submit(client, key, body)
    assert stored_bodies(client) == (count + 1, size + len(body))
    result = process_next_job_once(application)
    assert result is not None and result.job.id == job["id"] and result.outcome is JobOutcome.SUCCEEDED
    assert stored_bodies(client) == (count, size)


def test_an_admin_lists_inspects_and_retries_a_dead_job(
    client: httpx2.Client, admin: str, application: Application, address: str, openapi: dict[str, Any]
) -> None:
    as_admin = {"X-API-Key": admin}
    partner, key = new_partner(client, admin)
    drain(application)
    job = submit(client, key, jsonl_feed(5, prefix="DEAD"))
    dead_before = gauge(client, "dead")
    # The partner is switched off before its job runs: the job can never succeed as submitted.
    assert (
        client.patch(f"/admin/partners/{partner}", json={"active": False}, headers=as_admin).status_code
        == 200
    )
    result = process_next_job_once(application)
    assert result is not None and result.job.id == job["id"] and result.outcome is JobOutcome.DEAD

    listed = client.get("/admin/jobs", params={"status": "dead", "partner_id": partner}, headers=as_admin)
    shown = client.get(f"/admin/jobs/{job['id']}", headers=as_admin)

    assert listed.status_code == 200
    assert_conforms(openapi, "JobPage", listed.json())
    assert [j["id"] for j in listed.json()["jobs"]] == [job["id"]]
    assert shown.status_code == 200
    assert_conforms(openapi, "Job", shown.json())
    inspected = shown.json()
    assert inspected["status"] == "dead" and inspected["attempts"] == 1 and inspected["partner_id"] == partner
    assert inspected["last_error"].startswith("not_found:") and inspected["report"] is None
    assert inspected["location"] == f"/admin/jobs/{job['id']}"
    assert gauge(client, "dead") == dead_before + 1

    retried = client.post(f"/admin/jobs/{job['id']}/retry", headers=as_admin)
    not_dead = client.post(f"/admin/jobs/{job['id']}/retry", headers=as_admin)

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued" and retried.json()["attempts"] == 0
    assert not_dead.status_code == 409
    assert not_dead.json()["error"] == "job_not_dead"
    assert (
        not_dead.json()["details"]["status"] == "queued" and not_dead.json()["details"]["job_id"] == job["id"]
    )
    assert gauge(client, "dead") == dead_before
    audit = client.get(
        "/admin/audit", params={"action": "admin.action", "partner_id": partner}, headers=as_admin
    ).json()["entries"]
    [entry] = [e for e in audit if e["details"].get("retried_job") == job["id"]]
    assert entry["actor"].startswith("admin:") and entry["client"] == address

    assert (
        client.patch(f"/admin/partners/{partner}", json={"active": True}, headers=as_admin).status_code == 200
    )
    again = process_next_job_once(application)
    assert again is not None and again.outcome is JobOutcome.SUCCEEDED
    done = client.get(f"/partner/jobs/{job['id']}", headers={"X-API-Key": key}).json()
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["report"]["counts"]["created"] == 5


def test_admin_job_lists_filter_by_partner_and_page_through_every_job(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    as_admin = {"X-API-Key": admin}
    partner, key = new_partner(client, admin)
    submitted = [submit(client, key, jsonl_feed(1, first=n, prefix="PAGE"))["id"] for n in range(5)]

    seen: list[str] = []
    url: str | None = f"/admin/jobs?partner_id={partner}&limit=2"
    while url is not None:
        page = client.get(url, headers=as_admin).json()
        assert len(page["jobs"]) <= 2
        seen.extend(job["id"] for job in page["jobs"])
        url = page["next"]

    assert sorted(seen) == sorted(submitted) and len(seen) == 5
    assert seen == [job.id for job in application.jobs.recent(partner_id=partner)]  # most recent first
    queued = client.get("/admin/jobs", params={"partner_id": partner, "status": "queued"}, headers=as_admin)
    assert len(queued.json()["jobs"]) == 5
    drain(application)
    assert (
        client.get(
            "/admin/jobs", params={"partner_id": partner, "status": "queued"}, headers=as_admin
        ).json()["jobs"]
        == []
    )


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("status=finished", 400, "invalid_parameter"),
        ("limit=0", 422, "invalid_page"),
        ("limit=201", 422, "invalid_page"),
        ("offset=-1", 400, "invalid_parameter"),
        ("offset=9999&limit=50", 422, "invalid_page"),
    ],
)
def test_a_bad_admin_job_query_answers_a_json_error_not_a_500(
    client: httpx2.Client, admin: str, query: str, status: int, error: str
) -> None:
    answer = client.get(f"/admin/jobs?{query}", headers={"X-API-Key": admin})

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and "message" in answer.json()["details"]


def test_unknown_jobs_answer_404_to_admins(client: httpx2.Client, admin: str) -> None:
    for method, path in (("GET", "/admin/jobs/nope"), ("POST", "/admin/jobs/nope/retry")):
        answer = client.request(method, path, headers={"X-API-Key": admin})
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found" and answer.json()["details"]["kind"] == "job"


def test_every_new_admin_route_answers_401_without_a_key_and_403_to_a_partner_and_audits_each(
    client: httpx2.Client, admin: str, base_url: str, openapi: dict[str, Any]
) -> None:
    declared = {
        (method, path)
        for path, operations in openapi["paths"].items()
        for method in operations
        if path.startswith(
            ("/admin/jobs", "/admin/circuits", "/admin/schedules", "/admin/partners/{partner_id}/schedules")
        )
    }
    assert declared == NEW_ADMIN_ROUTES
    partner, key = new_partner(client, admin)
    anonymous: dict[str, tuple[str, str]] = {}
    as_partner: dict[str, tuple[str, str]] = {}

    with httpx2.Client(verify=tls(), base_url=base_url, timeout=30) as raw:
        for method, template in sorted(NEW_ADMIN_ROUTES):
            path = template.format(partner_id=partner, job_id="some-job", schedule_id="some-schedule")
            # Each refusal from an address of its own, so that none is throttled by the others.
            first, second = new_address(), new_address()
            no_key = raw.request(method, path, headers={"X-Forwarded-For": first})
            partner_key = raw.request(method, path, headers={"X-Forwarded-For": second, "X-API-Key": key})
            assert no_key.status_code == 401, (method, path, no_key.text)
            assert no_key.json()["error"] == "unauthenticated"
            assert partner_key.status_code == 403, (method, path, partner_key.text)
            assert partner_key.json()["error"] == "forbidden"
            anonymous[first] = (method, path)
            as_partner[second] = (method, path)

    as_admin = {"X-API-Key": admin}
    failed = client.get("/admin/audit", params={"action": "auth.failed", "limit": 500}, headers=as_admin)
    denied = client.get("/admin/audit", params={"action": "admin.denied", "limit": 500}, headers=as_admin)
    failed_clients = {e["client"] for e in failed.json()["entries"] if e["details"].get("needs") == "admin"}
    denied_by_client = {e["client"]: e for e in denied.json()["entries"]}
    assert set(anonymous) <= failed_clients
    for address in as_partner:
        entry = denied_by_client[address]
        assert entry["actor"] == partner and entry["outcome"] == "denied"
        assert key not in str(entry)  # the presented key itself is never audited


def test_job_locations_carry_the_mount_prefix_of_an_embedding_app(application: Application) -> None:
    embedding = Starlette(routes=[Mount("/catalog", app=create_app(application))])
    config = uvicorn.Config(
        embedding, host="127.0.0.1", port=0, lifespan="off", proxy_headers=False, log_config=None
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the embedding server did not start"
            time.sleep(0.01)
        with httpx2.Client(
            verify=tls(), base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30
        ) as client:
            admin = application.keys.create(KeyRole.ADMIN, actor="system", label="mount").plaintext
            created = client.post(
                "/catalog/admin/partners",
                json={"id": "mounted-partner", "name": "M"},
                headers={"X-API-Key": admin},
            )
            assert created.status_code == 201, created.text
            key = client.post(
                "/catalog/admin/partners/mounted-partner/keys", json={}, headers={"X-API-Key": admin}
            ).json()["api_key"]
            answer = client.post(
                "/catalog/partner/ingest",
                content=jsonl_feed(1, prefix="MOUNT"),
                headers={"X-API-Key": key, "Content-Type": JSONL, "Prefer": "respond-async"},
            )
            assert answer.status_code == 202, answer.text
            location = answer.headers["Location"]
            assert location == f"/catalog/partner/jobs/{answer.json()['id']}"
            assert client.get(location, headers={"X-API-Key": key}).status_code == 200
            drain(application)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
