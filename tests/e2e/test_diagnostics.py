"""Diagnostics over a real server on loopback: every rejected item of an import kept and paged,
summarized by code, downloaded as JSON Lines and as CSV a spreadsheet cannot run, resolved by
the import that fixes them; a SKU's status; another partner's import is a 404."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx2
import pytest
from support.http import new_partner
from support.jobs import assert_conforms

QUOTA = {"rate_limit_per_minute": 100_000, "policy": {"mode": "lenient", "max_error_ratio": 1.0}}


def item(n: int, **changes: Any) -> dict[str, Any]:
    base = {"sku": f"SKU-{n:05d}", "name": f"Item {n}", "price": 10.5, "currency": "EUR", "quantity": 1}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def send(client: httpx2.Client, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    lines = "".join(json.dumps(i) + "\n" for i in items).encode()
    answer = client.post(
        "/partner/ingest", content=lines, headers={"X-API-Key": key, "Content-Type": "application/x-ndjson"}
    )
    assert answer.status_code in (200, 422), answer.text
    report: dict[str, Any] = answer.json()  # a rejected feed answers 422 with its report too
    return report


@pytest.fixture
def openapi(client: httpx2.Client) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


@pytest.fixture
def partner(client: httpx2.Client, admin: str) -> str:
    return new_partner(client, admin, **QUOTA)[1]


def test_every_rejected_item_is_paged_past_the_reports_first_hundred(
    client: httpx2.Client, partner: str, openapi: dict[str, Any]
) -> None:
    items = [item(n) if n % 3 == 0 else item(n, price="=cmd|' /C calc'!A0") for n in range(300)]
    report = send(client, partner, items)
    assert report["errors_total"] == 200 and len(report["errors"]) == 100
    url = f"/partner/imports/{report['feed_id']}/errors"
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get(url, params={"after": after, "limit": 64}, headers={"X-API-Key": partner})
        assert page.status_code == 200, page.text
        assert_conforms(openapi, "DiagnosticPage", page.json())
        seen += page.json()["errors"]
        after = page.json()["next_after"]
        if after is None:
            break
    assert len(seen) == 200 and [e["seq"] for e in seen] == list(range(1, 201))
    assert seen[0]["value"] == "=cmd|' /C calc'!A0" and seen[0]["field"] == "price"
    assert seen[0]["location"]["line"] == 2  # JSON Lines: the item's line, 1-based
    assert json.loads(seen[0]["raw"])["sku"] == "SKU-00001"
    only = client.get(url, params={"code": "missing"}, headers={"X-API-Key": partner})
    assert only.status_code == 200 and only.json()["errors"] == []
    too_big = client.get(url, params={"limit": 5000}, headers={"X-API-Key": partner})
    assert too_big.status_code == 422 and too_big.json()["error"] == "invalid_page"


def test_the_summary_groups_by_code_with_counts_and_examples(
    client: httpx2.Client, partner: str, openapi: dict[str, Any]
) -> None:
    report = send(client, partner, [item(0), item(1, name=None), item(2, name=None), item(3, price="x")])
    answer = client.get(
        f"/partner/imports/{report['feed_id']}/errors/summary",
        params={"examples": 1},
        headers={"X-API-Key": partner},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert_conforms(openapi, "DiagnosticSummary", body)
    assert body["total"] == 3
    assert [(c["code"], c["count"], len(c["examples"])) for c in body["codes"]] == [
        ("missing", 2, 1),
        ("format", 1, 1),
    ]


def test_the_download_as_csv_neutralizes_formulas_and_as_json_lines_has_every_error(
    client: httpx2.Client, partner: str
) -> None:
    hostile = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    report = send(client, partner, [item(0)] + [item(n + 1, price=v) for n, v in enumerate(hostile)])
    url = f"/partner/imports/{report['feed_id']}/errors"
    as_csv = client.get(url, params={"format": "csv"}, headers={"X-API-Key": partner})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["value"] for r in rows] == ["'" + v for v in hostile]
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values()), row
    by_accept = client.get(url, headers={"X-API-Key": partner, "Accept": "application/x-ndjson"})
    assert by_accept.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in by_accept.text.splitlines()]
    assert [line["value"] for line in lines] == hostile  # JSON Lines keeps the value as sent
    bad = client.get(url, params={"format": "xlsx"}, headers={"X-API-Key": partner})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_parameter"


def test_a_fixed_resend_resolves_and_the_sku_status_names_both_imports(
    client: httpx2.Client, partner: str, openapi: dict[str, Any]
) -> None:
    first = send(client, partner, [item(0), item(1, price="oops"), item(2, price="nope")])
    fix = send(client, partner, [item(1)])
    errors = client.get(f"/partner/imports/{first['feed_id']}/errors", headers={"X-API-Key": partner}).json()
    assert [(e["sku"], e["resolved_by"]) for e in errors["errors"]] == [
        ("SKU-00001", fix["feed_id"]),
        ("SKU-00002", None),
    ]
    fixed = client.get("/partner/products/SKU-00001/status", headers={"X-API-Key": partner})
    assert fixed.status_code == 200, fixed.text
    assert_conforms(openapi, "SkuStatus", fixed.json())
    assert fixed.json()["accepted"]["import_id"] == fix["feed_id"]
    assert fixed.json()["rejected"]["import_id"] == first["feed_id"]
    open_one = client.get("/partner/products/SKU-00002/status", headers={"X-API-Key": partner}).json()
    assert open_one["accepted"] is None and open_one["rejected"]["errors"][0]["value"] == "nope"
    unknown = client.get("/partner/products/NOPE/status", headers={"X-API-Key": partner})
    assert unknown.status_code == 404
    # The product route still answers a SKU itself.
    assert (
        client.get("/partner/products/SKU-00001", headers={"X-API-Key": partner}).json()["sku"] == "SKU-00001"
    )


def test_the_status_of_a_sku_never_rejected_names_the_import_that_wrote_it(
    client: httpx2.Client, admin: str, openapi: dict[str, Any]
) -> None:
    partner_id, partner = new_partner(client, admin, **QUOTA)
    first = send(client, partner, [item(0), item(1)])
    later = send(client, partner, [item(0), item(1, quantity=4)])  # SKU 0 unchanged, SKU 1 changed
    for sku, feed_id in (("SKU-00000", first["feed_id"]), ("SKU-00001", later["feed_id"])):
        status = client.get(f"/partner/products/{sku}/status", headers={"X-API-Key": partner})
        assert status.status_code == 200, status.text
        assert_conforms(openapi, "SkuStatus", status.json())
        assert status.json()["accepted"]["import_id"] == feed_id
        assert status.json()["rejected"] is None
        product = client.get(f"/partner/products/{sku}", headers={"X-API-Key": partner})
        assert_conforms(openapi, "Product", product.json())
        assert product.json()["feed_id"] == feed_id
    listed = client.get(f"/admin/partners/{partner_id}/products", headers={"X-API-Key": admin})
    assert listed.status_code == 200, listed.text
    assert [p["feed_id"] for p in listed.json()["products"]] == [first["feed_id"], later["feed_id"]]


def test_another_partners_import_answers_404_like_an_unknown_one(
    client: httpx2.Client, partner: str, admin: str
) -> None:
    report = send(client, partner, [item(0), item(1, price="x")])
    _, other = new_partner(client, admin, **QUOTA)
    for path in (
        f"/partner/imports/{report['feed_id']}/errors",
        f"/partner/imports/{report['feed_id']}/errors/summary",
    ):
        theirs = client.get(path, headers={"X-API-Key": other})
        unknown = client.get(path.replace(report["feed_id"], "no-such-feed"), headers={"X-API-Key": other})
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.json()["error"] == unknown.json()["error"] == "not_found"


def test_open_rejections_per_partner_are_a_metric(client: httpx2.Client, admin: str) -> None:
    partner_id, key = new_partner(client, admin, **QUOTA)
    send(client, key, [item(0), item(1, price="x"), item(2, name=None, price="y")])

    def gauge() -> str:
        text = client.get("/metrics").text
        return next(
            (
                line
                for line in text.splitlines()
                if line.startswith(f'partner_ingest_open_rejections{{partner="{partner_id}"}}')
            ),
            "",
        )

    assert gauge().endswith(" 2.0")  # two items, three errors
    send(client, key, [item(1)])
    assert gauge().endswith(" 1.0")


def test_an_admin_replays_an_imports_rejected_items_and_it_is_audited(
    client: httpx2.Client, admin: str, openapi: dict[str, Any]
) -> None:
    partner_id, key = new_partner(
        client, admin, rate_limit_per_minute=100_000, policy={"max_error_ratio": 1.0}
    )
    first = send(client, key, [item(0), item(1, brand="Acme"), item(2, brand="Acme")])  # v1: brand unknown
    assert first["counts"]["rejected"] == 2
    url = f"/admin/imports/{first['feed_id']}/replay"
    as_partner = client.post(url, json={"version": 2}, headers={"X-API-Key": key})
    assert as_partner.status_code == 403
    answer = client.post(url, json={"version": 2}, headers={"X-API-Key": admin})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert_conforms(openapi, "ReplayResult", body)
    assert (
        body["replayed"] == 2 and body["report"]["counts"]["created"] == 2 and body["report"]["version"] == 2
    )
    product = client.get("/partner/products/SKU-00001", headers={"X-API-Key": key}).json()
    assert product["brand"] == "Acme"
    audit = client.get(
        "/admin/audit",
        params={"action": "import.replayed", "partner_id": partner_id},
        headers={"X-API-Key": admin},
    ).json()
    (entry,) = audit["entries"]
    assert entry["details"]["feed_id"] == first["feed_id"] and entry["details"]["replayed"] == 2
    again = client.post(url, headers={"X-API-Key": admin})
    assert again.status_code == 409 and again.json()["error"] == "nothing_to_replay"
    unknown = client.post("/admin/imports/no-such-import/replay", headers={"X-API-Key": admin})
    assert unknown.status_code == 404
