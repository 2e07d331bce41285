"""Keeping a catalog in sync over HTTP: X-Feed-Mode, the partner's default mode, deletes, jobs, help.

A real server on loopback with `serve`'s in-process worker (feeds sent as jobs
keep their mode); the stores are SQLite, as `serve` runs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.feeds import JSONL, jsonl_feed
from support.http import e2e_settings, new_partner, running_server
from support.jobs import finished_job

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import background_services

QUOTA = {"rate_limit_per_minute": 100_000}


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
    services = background_services(application)
    with running_server(application, services=services) as url:
        yield url


def send(client: httpx2.Client, key: str, body: bytes, **headers: str) -> httpx2.Response:
    sent = {"X-API-Key": key, "Content-Type": JSONL, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.post("/partner/ingest", content=body, headers=sent)


def skus(client: httpx2.Client, key: str) -> list[str]:
    page = client.get("/partner/products", params={"limit": "1000"}, headers={"X-API-Key": key}).json()
    return [product["sku"] for product in page["products"]]


def test_x_feed_mode_snapshot_retires_what_the_feed_leaves_out_and_a_delete_retires_its_sku(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    assert send(client, key, jsonl_feed(10)).status_code == 200
    answer = send(client, key, jsonl_feed(9), X_Feed_Mode="snapshot")
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["retired"] == 1
    assert skus(client, key) == [f"SKU-{n:08d}" for n in range(9)]
    deleted = send(client, key, b'{"sku": "SKU-00000000", "_delete": true}\n')
    assert deleted.json()["counts"]["deleted"] == 1
    assert skus(client, key) == [f"SKU-{n:08d}" for n in range(1, 9)]
    as_partner = {"X-API-Key": key}
    retired = client.get("/partner/products", params={"retired": "true"}, headers=as_partner).json()
    assert [p["sku"] for p in retired["products"]] == ["SKU-00000000", "SKU-00000009"]
    assert client.get("/partner/products/SKU-00000009", headers=as_partner).status_code == 404
    one = client.get("/partner/products/SKU-00000009", params={"retired": "true"}, headers=as_partner)
    assert one.status_code == 200 and one.json()["sku"] == "SKU-00000009"
    assert client.get("/partner/products", params={"retired": "maybe"}, headers=as_partner).status_code == 400


def test_a_patch_changes_one_field_and_an_unknown_feed_mode_is_a_400(
    client: httpx2.Client, admin: str
) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    send(client, key, jsonl_feed(2))
    answer = send(client, key, b'{"sku": "SKU-00000001", "quantity": 77}\n', X_Feed_Mode="patch")
    assert answer.status_code == 200, answer.text
    product = client.get("/partner/products/SKU-00000001", headers={"X-API-Key": key}).json()
    assert (product["quantity"], product["name"]) == (77, "Item 1")
    bad = send(client, key, jsonl_feed(1), X_Feed_Mode="replace")
    assert bad.status_code == 400
    assert "X-Feed-Mode" in bad.json()["details"]["message"]


def test_the_partners_default_mode_is_set_by_an_operator_and_a_job_keeps_its_own(
    client: httpx2.Client, admin: str
) -> None:
    partner_id, key = new_partner(client, admin, feed_mode="snapshot", **QUOTA)
    shown = client.get(f"/admin/partners/{partner_id}", headers={"X-API-Key": admin}).json()
    assert shown["feed_mode"] == "snapshot"
    send(client, key, jsonl_feed(10))
    assert send(client, key, jsonl_feed(9)).json()["counts"]["retired"] == 1  # the partner's default
    job = send(client, key, jsonl_feed(1, first=50), X_Feed_Mode="upsert", Prefer="respond-async")
    assert job.status_code == 202, job.text
    done = finished_job(client, key, job.json()["location"])
    assert done["report"]["counts"]["created"] == 1 and done["report"]["counts"]["retired"] == 0
    refused = client.patch(
        f"/admin/partners/{partner_id}", json={"feed_mode": "mirror"}, headers={"X-API-Key": admin}
    )
    assert refused.status_code == 422 and "feed_mode" in refused.text


def test_a_schedule_names_the_mode_of_its_pulls(client: httpx2.Client, admin: str) -> None:
    partner_id, _ = new_partner(client, admin, **QUOTA)
    created = client.post(
        f"/admin/partners/{partner_id}/schedules",
        json={"interval_seconds": 300, "feed_mode": "snapshot"},
        headers={"X-API-Key": admin},
    )
    assert created.status_code == 201, created.text
    assert created.json()["feed_mode"] == "snapshot"


def test_help_and_contract_describe_the_modes_and_the_delete(client: httpx2.Client, admin: str) -> None:
    _, key = new_partner(client, admin, **QUOTA)
    help_doc: dict[str, Any] = client.get("/partner/help", headers={"X-API-Key": key}).json()
    assert "X-Feed-Mode" in help_doc["headers"]
    contract = client.get("/partner/contract", headers={"X-API-Key": key}).json()
    assert set(contract["feed_modes"]) == {"upsert", "snapshot", "patch"}
    assert contract["delete"]["field"] == "_delete"
    assert "unknown_sku" in contract["error_codes"]
    openapi = client.get("/openapi.json").json()
    names = [p.get("name") for p in openapi["paths"]["/partner/ingest"]["post"]["parameters"]]
    assert "X-Feed-Mode" in names


def test_a_held_snapshot_is_told_to_the_partner_and_settled_by_an_operator(
    client: httpx2.Client, admin: str
) -> None:
    partner_id, key = new_partner(client, admin, **QUOTA)
    send(client, key, jsonl_feed(10))
    held = send(client, key, jsonl_feed(5), X_Feed_Mode="snapshot")
    assert held.status_code == 202, held.text
    report = held.json()
    assert (report["status"], report["counts"]["retired"]) == ("held", 5)
    shown = client.get(f"/partner/imports/{report['feed_id']}", headers={"X-API-Key": key}).json()
    assert shown["status"] == "held"
    as_admin = {"X-API-Key": admin}
    listed = client.get("/admin/imports/held", params={"partner_id": partner_id}, headers=as_admin).json()
    assert [entry["feed_id"] for entry in listed["imports"]] == [report["feed_id"]]
    assert (
        client.post(f"/admin/imports/{report['feed_id']}/release", headers={"X-API-Key": key}).status_code
        == 403
    )

    released = client.post(f"/admin/imports/{report['feed_id']}/release", headers=as_admin)
    assert released.status_code == 200, released.text
    assert released.json()["counts"]["retired"] == 5
    assert skus(client, key) == [f"SKU-{n:08d}" for n in range(5)]
    again = client.post(f"/admin/imports/{report['feed_id']}/discard", headers=as_admin)
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    missing = client.post("/admin/imports/feed_nope/release", headers=as_admin)
    assert missing.status_code == 404

    second = send(client, key, b"", X_Feed_Mode="snapshot")  # empty: never wipes the catalog
    assert second.status_code == 202 and second.json()["status"] == "held"
    discarded = client.post(f"/admin/imports/{second.json()['feed_id']}/discard", headers=as_admin)
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert skus(client, key) == [f"SKU-{n:08d}" for n in range(5)]


def test_the_change_feed_over_http_for_a_partner_and_an_admin(client: httpx2.Client, admin: str) -> None:
    partner_id, key = new_partner(client, admin, **QUOTA)
    send(client, key, jsonl_feed(3))
    send(client, key, b'{"sku": "SKU-00000001", "_delete": true}\n')
    mine = client.get("/partner/changes", params={"limit": "2"}, headers={"X-API-Key": key}).json()
    assert [c["kind"] for c in mine["changes"]] == ["created", "created"]
    rest = client.get(
        "/partner/changes", params={"after": mine["next_after"]}, headers={"X-API-Key": key}
    ).json()
    assert [(c["sku"], c["kind"]) for c in rest["changes"]] == [
        ("SKU-00000002", "created"),
        ("SKU-00000001", "retired"),
    ]
    everyone = client.get(
        "/admin/changes", params={"partner": partner_id, "limit": "1000"}, headers={"X-API-Key": admin}
    ).json()
    assert len(everyone["changes"]) == 4
    bad = client.get("/partner/changes", params={"after": "nope"}, headers={"X-API-Key": key})
    assert bad.status_code in (400, 422) and bad.json()["error"] == "invalid_cursor"
    waited = client.get(
        "/partner/changes", params={"after": rest["next_after"], "wait": "1"}, headers={"X-API-Key": key}
    )
    assert waited.status_code == 200 and waited.json()["changes"] == []
    assert waited.json()["next_after"] == rest["next_after"]


def test_a_read_at_an_instant_answers_the_effective_price(client: httpx2.Client, admin: str) -> None:
    _, key = new_partner(client, admin, default_version=2, **QUOTA)
    sale = (
        b'{"sku": "FLASH", "name": "Mug", "price": 10, "currency": "EUR", "quantity": 1, "sale_price": 7.5,'
        b' "sale_starts_at": "2026-11-27T08:00:00Z", "sale_ends_at": "2026-11-27T12:00:00Z"}\n'
    )
    assert send(client, key, sale, X_Feed_Version="2").status_code == 200
    as_partner = {"X-API-Key": key}
    during = client.get(
        "/partner/products/FLASH", params={"at": "2026-11-27T09:00:00+01:00"}, headers=as_partner
    )
    assert during.json()["effective_price"] == "7.50"
    after = client.get("/partner/products", params={"at": "2026-11-27T12:00:00Z"}, headers=as_partner)
    assert after.json()["products"][0]["effective_price"] == "10.00"
    assert "effective_price" not in client.get("/partner/products/FLASH", headers=as_partner).json()
    bad = client.get("/partner/products/FLASH", params={"at": "2026-11-27T09:00:00"}, headers=as_partner)
    assert bad.status_code == 400


def test_an_admin_reads_any_partners_products_active_or_retired(client: httpx2.Client, admin: str) -> None:
    partner_id, key = new_partner(client, admin, **QUOTA)
    send(client, key, jsonl_feed(3))
    send(client, key, b'{"sku": "SKU-00000002", "_delete": true}\n')
    as_admin = {"X-API-Key": admin}
    page = client.get(f"/admin/partners/{partner_id}/products", headers=as_admin).json()
    assert [p["sku"] for p in page["products"]] == ["SKU-00000000", "SKU-00000001"]
    retired = client.get(
        f"/admin/partners/{partner_id}/products", params={"retired": "true"}, headers=as_admin
    )
    assert [p["sku"] for p in retired.json()["products"]] == ["SKU-00000002"]
    one = client.get(f"/admin/partners/{partner_id}/products/SKU-00000001", headers=as_admin)
    assert one.status_code == 200 and one.json()["sku"] == "SKU-00000001"
    assert client.get(f"/admin/partners/{partner_id}/products", headers={"X-API-Key": key}).status_code == 403


def test_listings_updated_since_an_instant_for_a_partner_and_an_admin(
    client: httpx2.Client, admin: str
) -> None:
    partner_id, key = new_partner(client, admin, **QUOTA)
    send(client, key, jsonl_feed(3))
    time.sleep(0.01)
    since = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    send(
        client,
        key,
        b'{"sku": "SKU-00000001", "name": "Renamed", "price": 1, "currency": "EUR", "quantity": 1}\n',
    )
    mine = client.get("/partner/products", params={"updated_since": since}, headers={"X-API-Key": key})
    assert [p["sku"] for p in mine.json()["products"]] == ["SKU-00000001"]
    theirs = client.get(
        f"/admin/partners/{partner_id}/products",
        params={"updated_since": since},
        headers={"X-API-Key": admin},
    )
    assert [p["sku"] for p in theirs.json()["products"]] == ["SKU-00000001"]
    bad = client.get("/partner/products", params={"updated_since": "yesterday"}, headers={"X-API-Key": key})
    assert bad.status_code == 400 and "updated_since" in str(bad.json()["details"])
