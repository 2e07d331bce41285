"""Jobs an operator (or their partner) can steer, over a real server on loopback: 202 answers
say when to look again, a queued or running job is cancelled and writes nothing, dead jobs are
retried in bulk. This module's server runs no worker: `process_next_job_once` and the use case's
own claim/process steps decide when a job runs (T1)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from support.feeds import JSONL, jsonl_feed
from support.http import new_partner
from support.jobs import assert_conforms

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.worker import process_next_job_once
from partner_ingest.domain.use_cases import JobOutcome


@pytest.fixture
def openapi(client: httpx2.Client) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def submit(client: httpx2.Client, key: str, body: bytes) -> httpx2.Response:
    answer = client.post(
        "/partner/ingest?mode=async", content=body, headers={"X-API-Key": key, "Content-Type": JSONL}
    )
    assert answer.status_code == 202, answer.text
    return answer


def drain(application: Application) -> None:
    while process_next_job_once(application) is not None:
        pass


def stored(client: httpx2.Client, key: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = client.get("/partner/products", headers={"X-API-Key": key}).json()[
        "products"
    ]
    return products


def test_a_202_says_when_to_look_again(client: httpx2.Client, admin: str) -> None:
    _, key = new_partner(client, admin)
    answer = submit(client, key, jsonl_feed(2))
    assert answer.headers["Retry-After"].isdigit() and int(answer.headers["Retry-After"]) >= 1


def test_a_partner_cancels_its_queued_job_and_it_is_never_processed(
    client: httpx2.Client, admin: str, application: Application, openapi: dict[str, Any]
) -> None:
    _, key = new_partner(client, admin)
    _, other = new_partner(client, admin)
    drain(application)
    job = submit(client, key, jsonl_feed(3, prefix="CANCEL")).json()
    url = f"/partner/jobs/{job['id']}/cancel"
    assert client.post(url, headers={"X-API-Key": other}).status_code == 404  # not theirs
    cancelled = client.post(url, headers={"X-API-Key": key})
    assert cancelled.status_code == 200, cancelled.text
    assert_conforms(openapi, "Job", cancelled.json())
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(url, headers={"X-API-Key": key})
    assert again.status_code == 409 and again.json()["error"] == "job_finished"
    drain(application)
    assert stored(client, key) == []
    audit = client.get(
        "/admin/audit", params={"action": "job.cancelled"}, headers={"X-API-Key": admin}
    ).json()
    assert any(e["details"].get("job_id") == job["id"] for e in audit["entries"])


def test_an_admin_cancels_a_running_job_which_stops_and_writes_nothing(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    _, key = new_partner(client, admin)
    drain(application)
    job = submit(client, key, jsonl_feed(5000, prefix="RUN")).json()
    process = application.process_next_job
    claimed = process.claim()
    assert claimed is not None and claimed[0].id == job["id"]
    running, lease = claimed
    assert client.get(f"/admin/jobs/{job['id']}", headers={"X-API-Key": admin}).json()["status"] == "running"

    cancelled = client.post(f"/admin/jobs/{job['id']}/cancel", headers={"X-API-Key": admin})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    # The worker's heartbeat finds the lease gone; the feed stops at its next read.
    result = process.process(running, lease, interrupted=lambda: not process.holds(lease))
    assert result.outcome is JobOutcome.LEASE_LOST
    assert stored(client, key) == []
    assert (
        client.get(f"/partner/jobs/{job['id']}", headers={"X-API-Key": key}).json()["status"] == "cancelled"
    )


def test_an_admin_retries_dead_jobs_in_bulk_filtered_by_partner(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    as_admin = {"X-API-Key": admin}
    partner, key = new_partner(client, admin)
    bystander, other_key = new_partner(client, admin)
    drain(application)
    mine = [submit(client, key, jsonl_feed(2, prefix=f"D{n}")).json()["id"] for n in range(2)]
    theirs = submit(client, other_key, jsonl_feed(2, prefix="B")).json()["id"]
    for pid in (partner, bystander):  # switched off: every job of theirs dies on its first attempt
        assert (
            client.patch(f"/admin/partners/{pid}", json={"active": False}, headers=as_admin).status_code
            == 200
        )
    drain(application)
    for job_id in (*mine, theirs):
        assert client.get(f"/admin/jobs/{job_id}", headers=as_admin).json()["status"] == "dead"

    retried = client.post(
        "/admin/jobs/dead/retry", json={"partner_id": partner, "limit": 10}, headers=as_admin
    )

    assert retried.status_code == 200, retried.text
    assert sorted(retried.json()["retried"]) == sorted(mine) and retried.json()["body_purged"] == []
    assert [client.get(f"/admin/jobs/{j}", headers=as_admin).json()["status"] for j in mine] == ["queued"] * 2
    assert client.get(f"/admin/jobs/{theirs}", headers=as_admin).json()["status"] == "dead"
    bad = client.post("/admin/jobs/dead/retry", json={"limit": 100_000}, headers=as_admin)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_page"
    _, active_key = new_partner(client, admin)
    as_partner = client.post("/admin/jobs/dead/retry", headers={"X-API-Key": active_key})
    assert as_partner.status_code == 403


def test_a_running_job_shows_how_far_its_feed_was_read(
    client: httpx2.Client, admin: str, application: Application, openapi: dict[str, Any]
) -> None:
    from partner_ingest.domain.use_cases.jobs import JobProgress

    _, key = new_partner(client, admin)
    drain(application)
    body = jsonl_feed(300, prefix="PROG")
    job = submit(client, key, body).json()
    assert job["progress"] is None  # queued: nothing read yet
    process = application.process_next_job
    claimed = process.claim()
    assert claimed is not None and claimed[0].id == job["id"]
    running, lease = claimed
    seen = JobProgress()
    seen.items, seen.bytes = 120, 9000  # what the heartbeat found mid-feed
    assert process.renew(lease, seen)
    shown = client.get(f"/partner/jobs/{job['id']}", headers={"X-API-Key": key}).json()
    assert_conforms(openapi, "Job", shown)
    assert shown["status"] == "running" and shown["progress"] == {"items_read": 120, "bytes_read": 9000}
    counted = JobProgress()
    process.process(running, lease, progress=counted)
    assert (counted.items, counted.bytes) == (300, len(body))
    done = client.get(f"/partner/jobs/{job['id']}", headers={"X-API-Key": key}).json()
    assert done["status"] == "succeeded" and done["progress"] is None
