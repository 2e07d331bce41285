"""Feeds sent as jobs, against a real server on loopback with `serve`'s in-process worker.

`POST /partner/ingest` with `Prefer: respond-async` (or `?mode=async`) answers
202 with the job's Location once the job is committed; the worker `serve` runs
beside the server processes it; `GET /partner/jobs/{id}` shows it done with its
report, and the products are stored. Feeds over max_sync_bytes go only this way.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.feeds import JSONL, jsonl_feed
from support.http import e2e_settings, new_partner, running_server
from support.jobs import assert_conforms, finished_job

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import background_services

SYNC_LIMIT = 64 * 1024
BODY_LIMIT = 2 * 1024 * 1024
QUOTA = {"rate_limit_per_minute": 100_000}
"""Partners of this module poll their jobs; the default 60 a minute is S1's business, not this."""


@pytest.fixture(scope="module")
def application(database: Path) -> Iterator[Application]:
    """The service with a small sync limit, its in-process worker polling fast, no scheduler."""
    settings = e2e_settings(
        str(database),
        max_sync_bytes=SYNC_LIMIT,
        max_body_bytes=BODY_LIMIT,
        worker_poll_seconds=0.05,
        in_process_scheduler=False,
    )
    app = bootstrap.build(settings)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def base_url(application: Application) -> Iterator[str]:
    """The running server, with the worker `serve` runs beside it."""
    services = background_services(application)
    assert [type(s).__name__ for s in services] == ["BackgroundWorker"]
    with running_server(application, services=services) as url:
        yield url


@pytest.fixture
def openapi(client: httpx2.Client) -> dict[str, Any]:
    """The served OpenAPI document."""
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def send(client: httpx2.Client, key: str, body: bytes, *, query: str = "", **headers: str) -> httpx2.Response:
    """POST a JSON Lines feed with the partner's key (and any other headers)."""
    sent = {"X-API-Key": key, "Content-Type": JSONL, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.post(f"/partner/ingest{query}", content=body, headers=sent)


def skus(client: httpx2.Client, key: str) -> list[str]:
    """Every SKU the partner has stored, in order."""
    found: list[str] = []
    after: str | None = None
    while True:
        params = {"limit": "1000", **({"after": after} if after else {})}
        page = client.get("/partner/products", params=params, headers={"X-API-Key": key}).json()
        found.extend(product["sku"] for product in page["products"])
        after = page["next_after"]
        if after is None:
            return found


def test_a_feed_sent_async_is_stored_then_processed_by_the_in_process_worker(
    client: httpx2.Client, admin: str, application: Application, openapi: dict[str, Any]
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(50)

    answer = send(client, key, body, Prefer="respond-async")

    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert_conforms(openapi, "Job", accepted)
    location = f"/partner/jobs/{accepted['id']}"
    assert answer.headers["Location"] == accepted["location"] == location
    assert answer.headers["Preference-Applied"] == "respond-async"
    assert accepted["bytes"] == len(body)
    assert accepted["content_hash"] == hashlib.sha256(body).hexdigest()
    # Committed before the 202: another connection finds the row (whatever the worker did since).
    assert application.jobs.get(accepted["id"], partner_id=None).body_bytes == len(body)

    done = finished_job(client, key, location)

    assert_conforms(openapi, "Job", done)
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["last_error"] is None and done["next_attempt_at"] is None and done["finished_at"]
    assert done["report"]["status"] == "accepted"
    assert done["report"]["counts"] == {
        "received": 50,
        "created": 50,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "deleted": 0,
        "retired": 0,
    }
    assert skus(client, key) == [f"SKU-{n:08d}" for n in range(50)]


def test_a_feed_over_max_sync_bytes_is_refused_sync_and_accepted_and_processed_async(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(2_000)
    assert SYNC_LIMIT < len(body) < BODY_LIMIT

    refused = send(client, key, body)
    accepted = send(client, key, body, query="?mode=async")

    assert refused.status_code == 413 and refused.json()["error"] == "feed_too_large_for_sync"
    assert accepted.status_code == 202, accepted.text
    assert "Preference-Applied" not in accepted.headers  # asked by the query flag, not by Prefer
    done = finished_job(client, key, accepted.headers["Location"])
    assert done["status"] == "succeeded" and done["report"]["counts"]["created"] == 2_000
    assert len(skus(client, key)) == 2_000


def test_a_gzip_feed_is_stored_decompressed_and_the_cap_applies_after_decompression(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    partner, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(3_000, prefix="GZ")
    packed = gzip.compress(body)
    bomb = gzip.compress(b" " * (BODY_LIMIT + 1))
    assert len(packed) < SYNC_LIMIT < len(body) and len(bomb) < SYNC_LIMIT

    accepted = send(client, key, packed, Prefer="respond-async", Content_Encoding="gzip")
    exploded = send(client, key, bomb, Prefer="respond-async", Content_Encoding="gzip")

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["bytes"] == len(body)
    assert accepted.json()["content_hash"] == hashlib.sha256(body).hexdigest()
    assert exploded.status_code == 413 and exploded.json()["error"] == "body_too_large"
    assert exploded.json()["details"]["max_bytes"] == BODY_LIMIT
    done = finished_job(client, key, accepted.headers["Location"])
    assert done["report"]["counts"]["created"] == 3_000
    assert [job.id for job in application.jobs.recent(partner_id=partner)] == [accepted.json()["id"]]


def test_a_body_over_max_body_bytes_is_refused_413_declared_or_streamed_and_nothing_is_stored(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    partner, key = new_partner(client, admin, **QUOTA)
    chunk = jsonl_feed(1_000)

    def chunks() -> Iterator[bytes]:
        for _ in range(BODY_LIMIT // len(chunk) + 2):
            yield chunk

    declared = send(client, key, b"x" * (BODY_LIMIT + 1), Prefer="respond-async")
    streamed = client.post(
        "/partner/ingest?mode=async",
        content=chunks(),  # no Content-Length: chunked, so only counting while reading can stop it
        headers={"X-API-Key": key, "Content-Type": JSONL},
    )

    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"] == "body_too_large"
    assert application.jobs.recent(partner_id=partner) == []


def test_a_repeated_idempotency_key_answers_the_same_job_and_identical_content_is_not_applied_twice(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    partner, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(20, prefix="ID")

    first = send(client, key, body, Prefer="respond-async", Idempotency_Key="nightly-1")
    again = send(client, key, body, Prefer="respond-async", Idempotency_Key="nightly-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    done = finished_job(client, key, first.headers["Location"])

    same_content = send(client, key, body, Prefer="respond-async")
    repeat = finished_job(client, key, same_content.headers["Location"])

    assert same_content.json()["id"] != first.json()["id"]
    assert repeat["status"] == "succeeded"
    assert repeat["report"]["feed_id"] == done["report"]["feed_id"]  # the earlier report, not a new import
    assert len(application.jobs.recent(partner_id=partner)) == 2
    imports = client.get("/partner/imports", headers={"X-API-Key": key}).json()["imports"]
    assert [entry["feed_id"] for entry in imports] == [done["report"]["feed_id"]]


def test_a_malformed_feed_sent_async_ends_as_a_done_job_with_a_rejected_report(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)

    accepted = send(client, key, b'{"sku": "A-1", "name": ', Prefer="respond-async")
    done = finished_job(client, key, accepted.headers["Location"])

    assert done["status"] == "succeeded"  # processed: the feed itself is what was rejected
    assert done["report"]["status"] == "rejected" and done["report"]["feed_error"] is not None
    assert skus(client, key) == []


def test_another_partners_job_answers_404_exactly_like_an_unknown_one(
    client: httpx2.Client, admin: str
) -> None:
    _, owner_key = new_partner(client, admin, **QUOTA)
    _, other_key = new_partner(client, admin, **QUOTA)
    job_id = send(client, owner_key, jsonl_feed(3, prefix="MINE"), Prefer="respond-async").json()["id"]

    theirs = client.get(f"/partner/jobs/{job_id}", headers={"X-API-Key": other_key})
    unknown = client.get("/partner/jobs/job-that-never-was", headers={"X-API-Key": other_key})
    own = client.get(f"/partner/jobs/{job_id}", headers={"X-API-Key": owner_key})

    def shape(answer: httpx2.Response, asked: str) -> dict[str, Any]:
        body: dict[str, Any] = answer.json()
        details = {k: v for k, v in body["details"].items() if k != "request_id"}
        return {"status": answer.status_code, "error": body["error"], "details": details, "asked": asked}

    mine = shape(theirs, job_id)
    never = shape(unknown, "job-that-never-was")
    assert mine["status"] == never["status"] == 404 and mine["error"] == never["error"] == "not_found"
    assert str(mine["details"]).replace(job_id, "ID") == str(never["details"]).replace(
        "job-that-never-was", "ID"
    )
    assert own.status_code == 200
    listed = client.get("/partner/jobs", headers={"X-API-Key": other_key}).json()["jobs"]
    assert job_id not in [job["id"] for job in listed]


def test_what_cannot_be_a_job_is_refused_before_the_body_is_read_and_nothing_is_stored(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    partner, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(2)

    bad_mode = send(client, key, body, query="?mode=later")
    no_key = client.post("/partner/ingest?mode=async", content=body, headers={"Content-Type": JSONL})
    bad_type = send(client, key, body, Prefer="respond-async", Content_Type="image/png")
    bad_version = send(client, key, body, Prefer="respond-async", X_Feed_Version="99")
    denied = send(client, key, body, Prefer="respond-async", X_Validation_Mode="lenient")

    assert (bad_mode.status_code, bad_mode.json()["error"]) == (400, "invalid_parameter")
    assert (no_key.status_code, no_key.json()["error"]) == (401, "unauthenticated")
    assert (bad_type.status_code, bad_type.json()["error"]) == (415, "unsupported_media_type")
    assert (bad_version.status_code, bad_version.json()["error"]) == (400, "unknown_feed_version")
    assert (denied.status_code, denied.json()["error"]) == (403, "policy_override_denied")
    assert application.jobs.recent(partner_id=partner) == []


def test_the_openapi_document_declares_async_ingest_and_the_job_routes(openapi: dict[str, Any]) -> None:
    ingest = openapi["paths"]["/partner/ingest"]["post"]
    assert {"200", "202", "413", "422"} <= set(ingest["responses"])
    # 202: the job, or the report of a snapshot the mass-delete guard held (ADR 0036).
    assert ingest["responses"]["202"]["content"]["application/json"]["schema"] == {
        "anyOf": [{"$ref": "#/components/schemas/Job"}, {"$ref": "#/components/schemas/IngestReport"}]
    }
    assert {("Prefer", "header"), ("mode", "query")} <= {(p["name"], p["in"]) for p in ingest["parameters"]}
    job = openapi["paths"]["/partner/jobs/{job_id}"]["get"]
    assert {"200", "401", "403", "404", "429"} <= set(job["responses"])
    assert openapi["paths"]["/partner/jobs"]["get"]["security"] == [{"partnerKey": []}, {"partnerBearer": []}]
