"""Contract lifecycle over HTTP (ADR 0035): a deprecated version answers with `Deprecation` and
`Sunset` headers and a warning, a version past its sunset is refused with the supported
versions, the diff between versions is data, and admins see who still sends each version."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from support.feeds import JSONL, jsonl_feed
from support.service import Service

DEPRECATED = json.dumps(
    {"1": {"status": "deprecated", "sunset": "2999-01-01", "deprecated_at": "2026-01-15"}}
)
RETIRED = json.dumps({"1": {"status": "deprecated", "sunset": "2020-01-01"}})


def test_a_feed_under_a_deprecated_version_is_answered_with_headers_and_a_warning(
    serve: Callable[..., Service],
) -> None:
    service = serve(contract_lifecycle=DEPRECATED)
    admin = service.admin_key()
    partner_id, key = service.partner(admin)
    client = service.client(**{"X-API-Key": key})
    sent = {"Content-Type": JSONL, "X-Feed-Version": "1"}
    for path in ("/partner/ingest", "/partner/validate"):
        answer = client.post(path, content=jsonl_feed(2), headers=sent)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Deprecation"] == "@1768435200"
        assert parsedate_to_datetime(answer.headers["Sunset"]).year == 2999
        (warning,) = answer.json()["warnings"]
        assert "version 1 is deprecated" in warning and "move to version 2" in warning
    job = client.post("/partner/ingest", content=jsonl_feed(3), headers={**sent, "Prefer": "respond-async"})
    assert job.status_code == 202 and job.headers["Deprecation"] == "@1768435200"
    current = client.post("/partner/ingest", content=jsonl_feed(4), headers={**sent, "X-Feed-Version": "2"})
    assert current.status_code == 200
    assert "Deprecation" not in current.headers and "warnings" not in current.json()

    contract = service.client().get("/partner/contract").json()
    assert contract["lifecycle"]["1"]["status"] == "deprecated"
    assert contract["lifecycle"]["2"] == {"status": "current"}

    usage = service.client(**{"X-API-Key": admin}).get("/admin/contract/usage")
    assert usage.status_code == 200
    by_version = {v["version"]: v for v in usage.json()["versions"]}
    assert by_version[1]["status"] == "deprecated"
    assert [p["partner_id"] for p in by_version[1]["partners"]] == [partner_id]
    assert by_version[1]["imports"] == 1  # the dry run and the queued job are not imports (yet)
    assert by_version[2]["imports"] == 1
    assert client.get("/admin/contract/usage").status_code == 403


def test_after_the_sunset_a_feed_under_the_version_is_refused_naming_the_supported_ones(
    serve: Callable[..., Service],
) -> None:
    service = serve(contract_lifecycle=RETIRED)
    _, key = service.partner(service.admin_key())
    client = service.client(**{"X-API-Key": key})
    for extra in ({}, {"Prefer": "respond-async"}):
        refused = client.post(
            "/partner/ingest",
            content=jsonl_feed(1),
            headers={"Content-Type": JSONL, "X-Feed-Version": "1", **extra},
        )
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["error"] == "contract_version_retired"
        assert body["details"]["supported_versions"] == [2]
        assert body["details"]["sunset"].startswith("2020-01-01")
    assert service.sql("SELECT count(*) AS n FROM partner_feed_imports")[0]["n"] == 0
    assert service.sql("SELECT count(*) AS n FROM partner_ingest_jobs")[0]["n"] == 0


def test_the_diff_between_versions_is_machine_readable(service: Service) -> None:
    diff = service.client().get("/partner/contract/diff", params={"from": 1, "to": 2})
    assert diff.status_code == 200
    added = {f["field"]: f for f in diff.json()["fields"]["added"]}
    assert added["dimensions"]["schema"]["type"] == "object" and added["brand"]["required"] is False
    assert diff.json()["fields"]["removed"] == []
    back = service.client().get("/partner/contract/diff", params={"from": 2, "to": 1}).json()
    assert {f["field"] for f in back["fields"]["removed"]} == set(added)
    unknown = service.client().get("/partner/contract/diff", params={"from": 1, "to": 9})
    # The document declares the versions (minimum, maximum): another is a bad parameter, listing them.
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_parameter"
    assert unknown.json()["details"]["parameter"] == "to" and unknown.json()["details"]["available"] == [1, 2]
    newest = service.client().get("/partner/contract/diff", params={"from": 1}).json()
    assert (newest["from"], newest["to"]) == (1, 2) and newest == diff.json()
    bad = service.client().get("/partner/contract/diff", params={"from": "one"})
    assert bad.status_code == 400 and bad.json()["details"]["parameter"] == "from"
