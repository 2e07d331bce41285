"""Mistakes over HTTP: a body that contradicts its Content-Type says so, and is never answered
with the report the same bytes got under another type; a job whose feed was rejected reads
the same in its status, its outcome, its report and the import's ledger entry."""

from __future__ import annotations

import json

from support.service import Service

from partner_ingest.adapters_in.worker import process_next_job_once

FEED = json.dumps(
    {"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}
).encode()


def test_json_sent_as_csv_says_so_and_the_same_bytes_as_json_are_processed(service: Service) -> None:
    _, key = service.partner(service.admin_key())
    client = service.client(**{"X-API-Key": key})
    as_csv = client.post("/partner/ingest", content=FEED, headers={"Content-Type": "text/csv"})
    assert as_csv.status_code == 422
    error = as_csv.json()["feed_error"]
    assert "looks like JSON" in error["message"] and "application/json" in error["hint"]

    as_json = client.post("/partner/ingest", content=FEED, headers={"Content-Type": "application/json"})
    assert as_json.status_code == 200 and as_json.json()["status"] == "accepted"
    assert as_json.json()["feed_id"] != as_csv.json()["feed_id"]

    # The other way round: bytes applied as JSON, then sent as CSV, are read as CSV again,
    # never answered with the JSON import's report.
    again = client.post("/partner/ingest", content=FEED, headers={"Content-Type": "text/csv"})
    assert again.status_code == 422 and again.json()["feed_id"] != as_json.json()["feed_id"]
    repeat = client.post("/partner/ingest", content=FEED, headers={"Content-Type": "application/json"})
    assert repeat.json()["feed_id"] == as_json.json()["feed_id"]  # the same type: a repeat


def test_a_job_whose_feed_was_rejected_reads_consistently(service: Service) -> None:
    _, key = service.partner(service.admin_key())
    client = service.client(**{"X-API-Key": key})
    broken = b'{"products": [\n  {"sku": "A-1",}\n]}'
    accepted = client.post(
        "/partner/ingest",
        content=broken,
        headers={"Content-Type": "application/json", "Prefer": "respond-async"},
    )
    assert accepted.status_code == 202
    assert accepted.json()["outcome"] is None
    result = process_next_job_once(service.app)
    assert result is not None
    job = client.get(accepted.headers["Location"]).json()
    report = job["report"]
    assert (job["status"], job["outcome"], report["status"]) == ("succeeded", "rejected", "rejected")
    assert job["last_error"] is None  # processing did not fail: the feed was refused, see the report
    counts = report["counts"]
    assert counts["created"] == counts["updated"] == counts["unchanged"] == 0
    assert report["feed_error"]["location"] == {"line": 2, "column": 17, "offset": 31}
    (entry,) = client.get("/partner/imports").json()["imports"]
    assert (entry["status"], entry["job_id"], entry["report"]) == ("rejected", job["id"], report)
