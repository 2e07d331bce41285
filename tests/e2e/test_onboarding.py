"""U1, I1, I2 end to end: a partner onboards from /partner/help alone, then sends every example feed.

The quickstart's commands are run as they are written, by bash and the real
curl, with only the two variables the help document asks the reader to set
(the operator's admin key, then the partner's key from the create-key answer).
Everything after that is checked through the API a partner would use.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.http import new_address
from support.service import Service, json_of

SKU = "SKU-1001"


def _shell(command: str, *, cwd: Path, home: Path, **variables: str) -> str:
    """Run one quickstart command in bash, as a partner would paste it; its standard output."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LC_ALL": "C.UTF-8", **variables}
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    return done.stdout


def _number(value: object) -> Decimal:
    return Decimal(str(value))


def _moment(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _assert_stored_as(stored: dict[str, Any], item: dict[str, Any]) -> None:
    """The stored product says what the example item says, and nothing more."""
    for field in ("sku", "name", "currency", "quantity", "brand", "manufacturer", "gtin", "description"):
        assert stored[field] == item.get(field), field
    assert stored["image_url"] == item.get("image_url")
    assert _number(stored["price"]) == _number(item["price"])
    for field in ("sale_price",):
        assert (stored[field] is None) == (field not in item)
        if field in item:
            assert _number(stored[field]) == _number(item[field])
    for field in ("sale_starts_at", "sale_ends_at"):
        assert (stored[field] is None) == (field not in item)
        if field in item:
            assert _moment(stored[field]) == _moment(item[field])
    if "dimensions" in item:
        dims = stored["dimensions"]
        assert dims["unit"] == item["dimensions"]["unit"]
        for axis in ("width", "height", "depth"):
            assert _number(dims[axis]) == _number(item["dimensions"][axis])
    else:
        assert stored["dimensions"] is None
    assert stored["extra"] == {}


def test_a_partner_onboards_from_the_help_document_alone(service: Service, tmp_path: Path) -> None:
    address = new_address()
    # curl reads ~/.curlrc: every command of the quickstart speaks from this test's own address.
    (tmp_path / ".curlrc").write_text(f'header = "X-Forwarded-For: {address}"\n')
    work = tmp_path / "partner"
    work.mkdir()
    anonymous = service.client(address)

    help_doc = json_of(anonymous.get("/partner/help"))
    assert help_doc["base_url"] == service.base_url
    steps = {step["id"]: step["command"] for step in help_doc["steps"]}
    operator = {step["id"]: step["command"] for step in help_doc["operator_steps"]}
    assert next(iter(steps)) == "setup"
    markdown = anonymous.get("/partner/help", headers={"Accept": "text/markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    for command in [*steps.values(), *operator.values()]:
        assert command in markdown.text

    # The operator's part: create the partner and its key with the admin key.
    setup = steps["setup"]
    admin = {"ADMIN_KEY": service.admin_key()}
    partner = json.loads(_shell(f"{setup}\n{operator['create-partner']}", cwd=work, home=tmp_path, **admin))
    assert partner["id"] == "acme", partner
    created = json.loads(_shell(f"{setup}\n{operator['create-key']}", cwd=work, home=tmp_path, **admin))
    api_key = created["api_key"]
    assert api_key.startswith("pcik_")

    # The partner's part, step by step, with the key the operator handed over.
    def run(step: str) -> str:
        return _shell(
            f"{setup}\nexport API_KEY={shlex.quote(api_key)}\n{steps[step]}", cwd=work, home=tmp_path
        )

    contract = json.loads(run("contract"))
    assert contract["contract_version"]
    assert run("example") == ""
    example_files = list(work.iterdir())
    assert len(example_files) == 1
    feed = example_files[0].read_bytes()

    dry_run = json.loads(run("validate"))
    assert dry_run["dry_run"] is True
    assert dry_run["status"] == "accepted"
    assert dry_run["counts"]["created"] == 1

    report = json.loads(run("ingest"))
    assert report["status"] == "accepted", report
    assert report["counts"] == {
        "received": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "deleted": 0,
        "retired": 0,
    }
    assert report["dry_run"] is False

    imports = json.loads(run("imports"))["imports"]
    assert [entry["feed_id"] for entry in imports] == [report["feed_id"]]
    products = json.loads(run("products"))["products"]
    assert [p["sku"] for p in products] == [SKU]

    # The same feed gzipped is the same content: the earlier report, applied once.
    again = json.loads(run("gzip"))
    assert again["feed_id"] == report["feed_id"]
    assert len(json.loads(run("imports"))["imports"]) == 1

    # Every format and version the contract lists: its example is accepted and stored.
    partner_client = service.client(address, **{"X-API-Key": api_key})
    examples = {
        (e["format"], e["version"]): e
        for e in json_of(anonymous.get("/partner/contract/example"))["examples"]
    }
    listed = [(f["format"], f["version"]) for f in contract["formats"]]
    assert sorted(listed) == sorted(examples), "an example per format and version"
    assert feed == examples[("json", max(contract["versions"]))]["body"].encode()
    for fmt, version in listed:
        if examples[(fmt, version)].get("sample"):
            continue  # a foreign document's own sample: tests/e2e/test_foreign_formats.py sends those
        document = anonymous.get("/partner/contract/example", params={"format": fmt, "version": version})
        assert document.status_code == 200
        media_type = document.headers["content-type"].split(";")[0]
        assert media_type in next(f["media_types"] for f in contract["formats"] if f["format"] == fmt)
        answer = partner_client.post(
            "/partner/ingest",
            content=document.content,
            headers={"Content-Type": media_type, "X-Feed-Version": str(version)},
        )
        assert answer.status_code == 200, (fmt, version, answer.text)
        body = json_of(answer)
        assert (body["format"], body["version"], body["status"]) == (fmt, version, "accepted")
        counts = body["counts"]
        assert counts["received"] == 1
        assert counts["rejected"] == 0
        assert counts["created"] + counts["updated"] + counts["unchanged"] == 1
        stored = json_of(partner_client.get(f"/partner/products/{SKU}"))
        item = json.loads(examples[("json", version)]["body"])["products"][0]
        _assert_stored_as(stored, item)
    built_in = [key for key in listed if not examples[key].get("sample")]
    assert len(json_of(partner_client.get("/partner/imports", params={"limit": 50}))["imports"]) >= len(
        built_in
    )


def test_the_contract_publishes_a_json_schema_per_version_that_the_examples_meet(service: Service) -> None:
    client = service.client()
    contract = json_of(client.get("/partner/contract"))
    assert isinstance(contract["contract_version"], str)
    assert contract["contract_version"].count(".") == 2  # semver
    versions = contract["versions"]
    assert versions == sorted(versions)
    assert {1, 2} <= set(versions)
    assert set(contract["schemas"]) == {str(v) for v in versions}
    formats = {f["format"] for f in contract["formats"]}
    assert {"json", "csv", "xml"} <= formats
    for fmt in formats:
        assert {f["version"] for f in contract["formats"] if f["format"] == fmt} == set(versions)
    examples = json_of(client.get("/partner/contract/example"))["examples"]
    for version in versions:
        schema = contract["schemas"][str(version)]
        assert "2020-12" in schema["$schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        json_example = next(e for e in examples if (e["format"], e["version"]) == ("json", version))
        jsonschema.Draft202012Validator(schema).validate(json.loads(json_example["body"]))
    # v2 adds optional fields to v1, which v1 refuses (no additional properties).
    v1, v2 = (contract["schemas"][v]["$defs"]["product"] for v in ("1", "2"))
    assert set(v1["properties"]) < set(v2["properties"])
    assert v1["additionalProperties"] is False
    v2_example = next(e for e in examples if (e["format"], e["version"]) == ("json", 2))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(contract["schemas"]["1"]).validate(json.loads(v2_example["body"]))


def test_x_feed_version_2_is_handled_by_v2_while_v1_partners_keep_working(service: Service) -> None:
    admin = service.admin_key()
    v1_partner, v1_key = service.partner(admin, default_version=1)
    client = service.client(**{"X-API-Key": v1_key})
    anonymous = service.client()
    v1_feed = anonymous.get("/partner/contract/example", params={"format": "json", "version": 1}).content
    v2_feed = anonymous.get("/partner/contract/example", params={"format": "json", "version": 2}).content
    json_type = {"Content-Type": "application/json"}

    # No header: the partner's own version, exactly as before v2 existed.
    plain = json_of(client.post("/partner/ingest", content=v1_feed, headers=json_type))
    assert (plain["version"], plain["status"]) == (1, "accepted")
    assert json_of(client.get(f"/partner/products/{SKU}"))["brand"] is None

    # v2's new fields under v1 rules are unknown fields: refused item by item, nothing stored.
    refused = client.post("/partner/ingest", content=v2_feed, headers=json_type)
    assert refused.status_code == 422
    body = json_of(refused)
    assert body["version"] == 1
    assert {e["code"] for e in body["errors"]} == {"unknown_field"}
    assert json_of(client.get(f"/partner/products/{SKU}"))["brand"] is None

    # The same partner opts into v2 for one feed with the header.
    upgraded = json_of(
        client.post("/partner/ingest", content=v2_feed, headers={**json_type, "X-Feed-Version": "2"})
    )
    assert (upgraded["version"], upgraded["status"]) == (2, "accepted")
    assert upgraded["counts"]["updated"] == 1
    assert json_of(client.get(f"/partner/products/{SKU}"))["brand"] == "Rancilio"

    # A version nobody has: 400, listing the ones there are.
    unknown = client.post("/partner/ingest", content=v1_feed, headers={**json_type, "X-Feed-Version": "9"})
    assert unknown.status_code == 400
    error = json_of(unknown)
    assert error["error"] == "unknown_feed_version"
    assert error["details"]["available"] == [1, 2]
    partner = json_of(service.client(**{"X-API-Key": admin}).get(f"/admin/partners/{v1_partner}"))
    assert partner["default_version"] == 1


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "xml"])
def test_the_dry_run_reports_without_storing(service: Service, fmt: str) -> None:
    admin = service.admin_key()
    _, key = service.partner(admin, default_version=2)
    client = service.client(**{"X-API-Key": key})
    document = service.client().get("/partner/contract/example", params={"format": fmt, "version": 2})
    answer = client.post(
        "/partner/validate",
        content=document.content,
        headers={"Content-Type": document.headers["content-type"]},
    )
    assert answer.status_code == 200, answer.text
    report = json_of(answer)
    assert (report["dry_run"], report["status"], report["counts"]["created"]) == (True, "accepted", 1)
    assert json_of(client.get("/partner/products"))["products"] == []
    assert json_of(client.get("/partner/imports"))["imports"] == []


def test_help_names_the_address_it_was_reached_at(service: Service) -> None:
    client = service.client(Host="ingest.example.test:8443")
    help_doc = json_of(client.get("/partner/help"))
    assert help_doc["base_url"] == "http://ingest.example.test:8443"
    assert "export PARTNER_INGEST_URL=http://ingest.example.test:8443\n" in help_doc["steps"][0]["command"]
    assert help_doc["links"]["openapi"] == "http://ingest.example.test:8443/openapi.json"
