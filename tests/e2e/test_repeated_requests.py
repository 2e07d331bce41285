"""A request sent again, against a real server: an Idempotency-Key names one request, and a
feed's fingerprint covers everything that changes its outcome (issue 12, defects 3 and 4).

- The same key with the same request answers what the first request got (its report, or
  its job); with a different body, version, validation mode or atomic flag it is refused
  422 `idempotency_key_reused`, naming what differs. Feeds sent now and jobs share one key
  space per partner.
- The same bytes sent again under other terms (another X-Feed-Version, validation mode or
  atomic flag) are processed under those terms, not answered with the earlier report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support.feeds import JSONL, jsonl_feed
from support.http import e2e_settings, new_partner, running_server
from support.jobs import finished_job

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import background_services

QUOTA = {"rate_limit_per_minute": 100_000, "allow_policy_override": True, "default_version": 2}


@pytest.fixture(scope="module")
def application(database: Path) -> Iterator[Application]:
    """The service with its in-process worker polling fast, no scheduler."""
    settings = e2e_settings(str(database), worker_poll_seconds=0.05, in_process_scheduler=False)
    app = bootstrap.build(settings)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def base_url(application: Application) -> Iterator[str]:
    with running_server(application, services=background_services(application)) as url:
        yield url


def send(client: httpx2.Client, key: str, body: bytes, **headers: str) -> httpx2.Response:
    sent = {"X-API-Key": key, "Content-Type": JSONL, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.post("/partner/ingest", content=body, headers=sent)


def refused(response: httpx2.Response) -> list[str]:
    """What a 422 idempotency_key_reused says differs."""
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "idempotency_key_reused"
    differs: list[str] = answer["details"]["differs"]
    return differs


def test_a_key_repeated_with_the_same_request_answers_its_report_and_with_another_is_refused(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(3, prefix="K")
    first = send(client, key, body, Idempotency_Key="k-1")
    assert first.status_code == 200
    assert send(client, key, body, Idempotency_Key="k-1").json() == first.json()

    assert refused(send(client, key, jsonl_feed(4, prefix="K"), Idempotency_Key="k-1")) == ["body"]
    assert refused(send(client, key, body, Idempotency_Key="k-1", X_Feed_Version="1")) == ["version"]
    assert refused(send(client, key, body, Idempotency_Key="k-1", X_Validation_Mode="lenient")) == [
        "validation_mode"
    ]
    assert refused(send(client, key, body, Idempotency_Key="k-1", X_Atomic="true")) == ["atomic"]
    imports = client.get("/partner/imports", headers={"X-API-Key": key}).json()["imports"]
    assert [entry["feed_id"] for entry in imports] == [first.json()["feed_id"]]  # nothing else was applied


def test_feeds_sent_now_and_jobs_share_one_key_space(client: httpx2.Client, admin: str) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(3, prefix="J")
    job = send(client, key, body, Idempotency_Key="k-job", Prefer="respond-async")
    assert job.status_code == 202
    # Another body under the job's key, now: refused, not applied beside the job.
    assert refused(send(client, key, jsonl_feed(5, prefix="J"), Idempotency_Key="k-job")) == ["body"]
    done = finished_job(client, key, job.headers["Location"])
    # The same request sent now answers the job's report once the job has one.
    again = send(client, key, body, Idempotency_Key="k-job")
    assert again.status_code == 200 and again.json()["feed_id"] == done["report"]["feed_id"]

    sync = send(client, key, jsonl_feed(2, prefix="S"), Idempotency_Key="k-sync")
    assert sync.status_code == 200
    # A job under a key first used for a feed sent now answers that feed's report, stores nothing.
    as_job = send(client, key, jsonl_feed(2, prefix="S"), Idempotency_Key="k-sync", Prefer="respond-async")
    assert as_job.status_code == 200 and as_job.json()["feed_id"] == sync.json()["feed_id"]
    assert refused(send(client, key, body, Idempotency_Key="k-sync", Prefer="respond-async")) == ["body"]
    jobs = client.get("/partner/jobs", headers={"X-API-Key": key}).json()["jobs"]
    assert [j["id"] for j in jobs] == [job.json()["id"]]


def test_a_key_whose_job_has_no_report_yet_names_the_job(
    client: httpx2.Client, admin: str, application: Application
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    body = jsonl_feed(2, prefix="Q")
    # The worker may not have taken it yet; if it has, the same request answers the report.
    job = send(client, key, body, Idempotency_Key="k-q", Prefer="respond-async")
    answer = send(client, key, body, Idempotency_Key="k-q")
    if answer.status_code == 409:
        assert answer.json()["error"] == "idempotency_key_names_job"
        assert answer.json()["details"]["job_id"] == job.json()["id"]
    else:
        assert answer.status_code == 200
        assert (
            answer.json()["feed_id"]
            == finished_job(client, key, job.headers["Location"])["report"]["feed_id"]
        )


def test_the_same_bytes_under_other_terms_are_processed_under_those_terms(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    # v2 requires what v1 does not know: the same bytes are a valid v1 feed and a partial v2 one.
    body = b'{"sku": "T-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}\n' + (
        b'{"sku": "T-2", "name": "Mug", "price": "9.50", "currency": "EUR", "quantity": 3}\n'
    )
    strict = send(client, key, body).json()
    assert strict["counts"]["rejected"] == 1  # "9.50" is text: strict mode refuses it
    assert send(client, key, body).json()["feed_id"] == strict["feed_id"]  # same terms: a repeat

    lenient = send(client, key, body, X_Validation_Mode="lenient").json()
    assert lenient["feed_id"] != strict["feed_id"] and lenient["counts"]["rejected"] == 0
    atomic = send(client, key, body, X_Atomic="true")
    assert atomic.status_code == 422 and atomic.json()["feed_error"]["code"] == "atomic_rejected"
    v1 = send(client, key, body, X_Feed_Version="1").json()
    assert v1["feed_id"] not in {strict["feed_id"], lenient["feed_id"]} and v1["version"] == 1
