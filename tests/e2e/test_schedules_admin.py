"""Pull schedules over the admin API, pulled by `serve`'s in-process scheduler (S3, S4, ADR 0014).

A real server on loopback runs the worker and the scheduler as `serve` does; the
partners' feed servers run on loopback too (allowed explicitly, as an operator
would). A schedule created over the admin API is pulled with the partner's
stored credentials, its job is completed and the products stored; a failing
endpoint opens its circuit, visible to admins and in /metrics; a partner pulled
far too often raises a fetch anomaly; and no admin answer ever carries a credential.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx2
import pytest
from support.feeds import FeedServer, Reply, feed_server, wait_for
from support.http import admin_key, e2e_settings, new_partner, running_server, tls
from support.jobs import assert_conforms

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import background_services
from partner_ingest.domain.model import AuditAction, AuditQuery, JobStatus

FEED = (
    b'{"products": [{"sku": "P-1", "name": "Pulled", "price": 5, "currency": "EUR", "quantity": 1},'
    b' {"sku": "P-2", "name": "Pulled too", "price": 7.25, "currency": "EUR", "quantity": 2}]}'
)
SECRET = "Bearer pull-s3cr3t-token-0123456789abcdef"
HEADER_SECRET = "hdr-s3cr3t-value-fedcba9876543210"
SECRETS = (SECRET, HEADER_SECRET, SECRET.split()[1])
CREDENTIALS = {"Authorization": SECRET, "X-Partner-Token": HEADER_SECRET}
ANOMALY_PER_HOUR = 3


@pytest.fixture(scope="module")
def application(database: Path) -> Iterator[Application]:
    """The service with loopback endpoints allowed, breakers that open on the first failure,
    and background services polling fast."""
    settings = e2e_settings(
        str(database),
        fetch_allow_networks="127.0.0.0/8",
        fetch_timeout_seconds=5.0,
        breaker_failures=1,
        breaker_reset_seconds=3600.0,
        fetch_anomaly_per_hour=ANOMALY_PER_HOUR,
        worker_poll_seconds=0.05,
        scheduler_poll_seconds=0.1,
    )
    app = bootstrap.build(settings)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def base_url(application: Application) -> Iterator[str]:
    """The running server with the worker and the scheduler, as `serve` runs them."""
    services = background_services(application)
    assert [type(s).__name__ for s in services] == ["BackgroundWorker", "BackgroundScheduler"]
    with running_server(application, services=services) as url:
        yield url


@pytest.fixture(scope="module")
def partner_site() -> Iterator[FeedServer]:
    """A partner's healthy feed server: the catalog only for requests with the credentials."""
    with feed_server({"/catalog.json": Reply(200, FEED, requires=CREDENTIALS)}) as server:
        yield server


@pytest.fixture(scope="module")
def broken_site() -> Iterator[FeedServer]:
    """Another partner's server, down: every request answers 500."""
    with feed_server({"/catalog.json": Reply(500, b"oops", "text/plain")}) as server:
        yield server


@attrs.frozen
class Pulled:
    """A partner whose scheduled pull has completed: what the test set up and what came of it."""

    partner: str
    key: str
    schedule: dict[str, Any]
    job_id: str
    answers: tuple[httpx2.Response, ...]
    """Every admin answer of the set-up, for the credential check."""


def pulled_jobs(application: Application, partner: str) -> list[str]:
    """Ids of the partner's pulled jobs that succeeded."""
    return [
        job.id
        for job in application.jobs.recent(partner_id=partner)
        if job.source == "pull" and job.status is JobStatus.SUCCEEDED
    ]


@pytest.fixture(scope="module")
def pulled(base_url: str, application: Application, partner_site: FeedServer) -> Pulled:
    """A partner with an endpoint and credentials, and a schedule created over the admin API,
    once the scheduler has pulled it and the worker has completed the job."""
    admin = admin_key(application)
    with httpx2.Client(verify=tls(), base_url=base_url, timeout=30) as client:
        as_admin = {"X-API-Key": admin}
        partner, key = new_partner(
            client,
            admin,
            endpoint=partner_site.url("/catalog.json"),
            endpoint_auth=SECRET,
            endpoint_headers={"X-Partner-Token": HEADER_SECRET},
        )
        partner_view = client.get(f"/admin/partners/{partner}", headers=as_admin)
        created = client.post(
            f"/admin/partners/{partner}/schedules", json={"interval_seconds": 300}, headers=as_admin
        )
        assert created.status_code == 201, created.text
        wait_for(lambda: bool(pulled_jobs(application, partner)), 30, "the scheduled pull's job to complete")
        [job_id] = pulled_jobs(application, partner)
        return Pulled(partner, key, created.json(), job_id, (partner_view, created))


def test_a_schedule_created_over_the_admin_api_is_pulled_and_its_job_completed(
    client: httpx2.Client, admin: str, pulled: Pulled, partner_site: FeedServer
) -> None:
    as_admin = {"X-API-Key": admin}
    schedule_id = pulled.schedule["id"]

    jobs = client.get("/admin/jobs", params={"partner_id": pulled.partner}, headers=as_admin).json()["jobs"]
    schedule = client.get(f"/admin/schedules/{schedule_id}", headers=as_admin).json()
    products = client.get("/partner/products", headers={"X-API-Key": pulled.key}).json()["products"]
    fetches = client.get(
        "/admin/audit", params={"partner_id": pulled.partner, "action": "fetch"}, headers=as_admin
    ).json()["entries"]

    [job] = jobs
    assert job["id"] == pulled.job_id and job["source"] == "pull" and job["status"] == "succeeded"
    assert job["report"]["counts"]["created"] == 2
    assert [(p["sku"], p["price"]) for p in products] == [("P-1", "5.00"), ("P-2", "7.25")]
    # The stored credentials went to the partner's server, and only there.
    [(path, headers)] = [r for r in partner_site.requests if r[1].get("X-Partner-Token")]
    assert path == "/catalog.json" and headers["Authorization"] == SECRET
    assert (
        schedule["last_run_at"] is not None
        and schedule["last_content_hash"] == hashlib.sha256(FEED).hexdigest()
    )
    assert schedule["next_run_at"] > schedule["last_run_at"]
    [fetch] = fetches
    assert fetch["details"]["status"] == 200 and fetch["details"]["outcome"] == "fetched"
    assert fetch["details"]["host"] == "127.0.0.1" and fetch["details"]["bytes"] == len(FEED)


def test_credentials_never_appear_in_admin_answers_or_the_audit_trail(
    client: httpx2.Client, admin: str, pulled: Pulled
) -> None:
    as_admin = {"X-API-Key": admin}
    paths = [
        f"/admin/partners/{pulled.partner}",
        "/admin/partners",
        f"/admin/partners/{pulled.partner}/schedules",
        "/admin/schedules",
        f"/admin/schedules/{pulled.schedule['id']}",
        f"/admin/jobs?partner_id={pulled.partner}",
        f"/admin/jobs/{pulled.job_id}",
        "/admin/circuits",
        f"/admin/audit?partner_id={pulled.partner}&limit=500",
        "/metrics",
    ]
    answers = [*pulled.answers, *(client.get(path, headers=as_admin) for path in paths)]

    assert all(answer.status_code in (200, 201) for answer in answers)
    for answer in answers:
        for secret in SECRETS:
            assert secret not in answer.text, f"{answer.request.url} shows a credential"
    partner = pulled.answers[0].json()
    assert partner["endpoint_auth"] == "****" and partner["endpoint_headers"] == {"X-Partner-Token": "****"}


def test_a_failing_endpoint_opens_its_circuit_visible_to_admins_and_in_metrics(
    client: httpx2.Client, admin: str, application: Application, broken_site: FeedServer
) -> None:
    as_admin = {"X-API-Key": admin}
    partner, _ = new_partner(client, admin, endpoint=broken_site.url("/catalog.json"))
    created = client.post(
        f"/admin/partners/{partner}/schedules", json={"interval_seconds": 600}, headers=as_admin
    )
    assert created.status_code == 201, created.text

    def failed_fetches() -> int:
        query = AuditQuery(partner_id=partner, action=AuditAction.FETCH, limit=10)
        return len(application.audit.query(query))

    wait_for(lambda: failed_fetches() == 1, 30, "the failing fetch to be audited")
    circuits = client.get("/admin/circuits", headers=as_admin)
    metrics = client.get("/metrics").text

    assert circuits.status_code == 200
    [circuit] = [c for c in circuits.json()["circuits"] if c["endpoint"] == broken_site.base_url]
    assert circuit["partner_id"] == partner and circuit["state"] == "open" and circuit["failures"] == 1
    assert circuit["next_probe_at"] is not None
    assert re.search(r'^partner_ingest_fetch_circuits\{state="open"\} 1\.0$', metrics, re.MULTILINE)
    assert application.jobs.recent(partner_id=partner) == []  # nothing fetched, nothing submitted
    [fetch] = client.get(
        "/admin/audit", params={"partner_id": partner, "action": "fetch"}, headers=as_admin
    ).json()["entries"]
    assert fetch["outcome"] == "failed" and fetch["details"]["status"] == 500


def test_a_partner_pulled_far_too_often_raises_a_fetch_anomaly_and_its_metric(
    client: httpx2.Client, admin: str, application: Application, partner_site: FeedServer
) -> None:
    as_admin = {"X-API-Key": admin}
    partner, _ = new_partner(
        client,
        admin,
        endpoint=partner_site.url("/catalog.json"),
        endpoint_auth=SECRET,
        endpoint_headers={"X-Partner-Token": HEADER_SECRET},
    )
    # Five schedules due at once: five fetches within the hour, above the limit of three.
    for _ in range(5):
        answer = client.post(
            f"/admin/partners/{partner}/schedules", json={"interval_seconds": 3600}, headers=as_admin
        )
        assert answer.status_code == 201, answer.text

    def anomalies() -> int:
        query = AuditQuery(partner_id=partner, action=AuditAction.FETCH_ANOMALY, limit=10)
        return len(application.audit.query(query))

    wait_for(lambda: anomalies() >= 1, 30, "the fetch anomaly")
    wait_for(
        lambda: len(application.audit.query(AuditQuery(partner_id=partner, action=AuditAction.FETCH))) == 5,
        30,
        "every fetch",
    )
    audited = client.get(
        "/admin/audit", params={"partner_id": partner, "action": "fetch_anomaly"}, headers=as_admin
    ).json()["entries"]
    metrics = client.get("/metrics").text

    [entry] = audited  # one per partner and hour, however many fetches follow
    assert (
        entry["details"]["limit_per_hour"] == ANOMALY_PER_HOUR and entry["details"]["reason"] == "above limit"
    )
    found = re.search(r"^partner_ingest_fetch_anomalies (\S+)$", metrics, re.MULTILINE)
    assert found is not None and float(found.group(1)) >= 1


def test_schedules_are_created_read_changed_and_deleted_over_the_admin_api_each_change_audited(
    client: httpx2.Client, admin: str, address: str
) -> None:
    as_admin = {"X-API-Key": admin}
    openapi = client.get("/openapi.json").json()
    partner, _ = new_partner(client, admin)  # no endpoint: a cron far from now, never pulled here

    created = client.post(
        f"/admin/partners/{partner}/schedules", json={"cron": "0 3 * * *", "format": "csv"}, headers=as_admin
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert_conforms(openapi, "Schedule", schedule)
    assert created.headers["Location"] == f"/admin/schedules/{schedule['id']}"
    assert (
        schedule["cron"] == "0 3 * * *"
        and schedule["interval_seconds"] is None
        and schedule["format"] == "csv"
    )
    assert schedule["next_run_at"].split("T")[1].startswith("03:00")

    listed = client.get(f"/admin/partners/{partner}/schedules", headers=as_admin).json()
    everyone = client.get("/admin/schedules", params={"partner_id": partner}, headers=as_admin).json()
    switched_off = client.patch(
        f"/admin/schedules/{schedule['id']}", json={"enabled": False}, headers=as_admin
    )
    to_interval = client.patch(
        f"/admin/schedules/{schedule['id']}", json={"interval_seconds": 7200}, headers=as_admin
    )
    deleted = client.delete(f"/admin/schedules/{schedule['id']}", headers=as_admin)
    gone = client.get(f"/admin/schedules/{schedule['id']}", headers=as_admin)
    deleted_again = client.delete(f"/admin/schedules/{schedule['id']}", headers=as_admin)

    assert_conforms(openapi, "ScheduleList", listed)
    assert listed == everyone and [s["id"] for s in listed["schedules"]] == [schedule["id"]]
    assert switched_off.status_code == 200 and switched_off.json()["enabled"] is False
    assert to_interval.json()["interval_seconds"] == 7200 and to_interval.json()["cron"] is None
    assert to_interval.json()["enabled"] is False  # the rule changed, the switch did not
    assert deleted.status_code == 204 and deleted.content == b""
    assert gone.status_code == deleted_again.status_code == 404
    assert gone.json()["error"] == "not_found" and gone.json()["details"]["kind"] == "schedule"
    changes = client.get(
        "/admin/audit", params={"partner_id": partner, "action": "admin.action"}, headers=as_admin
    ).json()["entries"]
    assert [e["details"]["change"] for e in reversed(changes)] == ["created", "updated", "updated", "deleted"]
    assert {e["client"] for e in changes} == {address} and all(
        e["actor"].startswith("admin:") for e in changes
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"interval_seconds": 300, "cron": "0 3 * * *"}, 422, "invalid_schedule"),
        ({}, 422, "invalid_schedule"),
        ({"interval_seconds": 30}, 422, "invalid_schedule"),
        ({"cron": "every night"}, 422, "invalid_cron"),
        ({"cron": "0 3 * * *", "format": "yaml"}, 422, "invalid_schedule"),
        ({"cron": "0 3 * * *", "version": 99}, 422, "invalid_schedule"),
        ({"interval_seconds": "300"}, 422, "invalid_request"),
        ({"interval_seconds": 300, "endpoint_auth": "x"}, 422, "invalid_request"),
    ],
)
def test_a_schedule_that_cannot_run_is_refused_with_a_json_error(
    client: httpx2.Client, admin: str, body: dict[str, Any], status: int, error: str
) -> None:
    partner, _ = new_partner(client, admin)

    answer = client.post(f"/admin/partners/{partner}/schedules", json=body, headers={"X-API-Key": admin})

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["details"]["message"]
    assert client.get(f"/admin/partners/{partner}/schedules", headers={"X-API-Key": admin}).json() == {
        "schedules": []
    }


def test_schedule_requests_that_cannot_be_read_answer_json_errors(client: httpx2.Client, admin: str) -> None:
    as_admin = {"X-API-Key": admin}

    unknown_partner = client.post(
        "/admin/partners/nobody/schedules", json={"cron": "0 3 * * *"}, headers=as_admin
    )
    not_json = client.post(
        "/admin/partners/nobody/schedules",
        content=b"interval=300",
        headers={**as_admin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    malformed = client.patch(
        "/admin/schedules/whatever", content=b"{", headers={**as_admin, "Content-Type": "application/json"}
    )
    unknown_schedule = client.patch("/admin/schedules/whatever", json={"enabled": True}, headers=as_admin)

    assert (unknown_partner.status_code, unknown_partner.json()["error"]) == (404, "not_found")
    assert (not_json.status_code, not_json.json()["error"]) == (415, "unsupported_media_type")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed_json")
    assert (unknown_schedule.status_code, unknown_schedule.json()["error"]) == (404, "not_found")
