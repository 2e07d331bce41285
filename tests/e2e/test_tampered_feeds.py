"""S2 end to end: tampered feeds are refused item by item, injected SQL stays data, nothing else moves.

A partner with a valid key sends JSON, CSV and XML feeds carrying SQL
injection strings, oversized fields, wrong types and unknown fields. The test
then opens the SQLite file itself (not through the application) and checks
that the schema, the other partner's products, the keys and every earlier
audit entry are exactly as they were, that valid hostile text was stored byte
for byte, and that each rejected item has its own audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.service import Service, json_of

DROP = "Robert'); DROP TABLE product; --"
"""A valid name: text that is SQL only if someone pastes it into a query."""
HOSTILE_TEXT = {
    "name": DROP,
    "description": "1' OR '1'='1'; DELETE FROM product WHERE partner_id <> '; -- \\' \" ` ; /* */",
    "brand": '"; UPDATE partner SET active = 0; --',
    "manufacturer": "Ünïcødé — 北京 🚀 x\u200bz",
}


def _snapshot(service: Service, other_partner: str) -> dict[str, Any]:
    """What must not change: the schema, the other partner's rows, partners, keys, jobs, audit so far."""
    return {
        "schema": [
            tuple(r) for r in service.sql("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        ],
        "migrations": [tuple(r) for r in service.sql("SELECT * FROM schema_migrations ORDER BY 1")],
        "other_products": [
            tuple(r)
            for r in service.sql("SELECT * FROM product WHERE partner_id = ? ORDER BY id", [other_partner])
        ],
        "partners": [tuple(r) for r in service.sql("SELECT * FROM partner ORDER BY id")],
        # All but last_used_at, which every authenticated request may move (once a minute).
        "keys": [
            tuple(r)
            for r in service.sql(
                "SELECT id, role, partner_id, secret_hash, label, created_at, expires_at, revoked_at, replaces"
                " FROM partner_api_keys ORDER BY id"
            )
        ],
        "jobs": [tuple(r) for r in service.sql("SELECT * FROM partner_ingest_jobs ORDER BY id")],
    }


@pytest.fixture
def hostile(service: Service) -> Iterator[tuple[Service, Any, str]]:
    """(service, the attacking partner's client, the other partner's id); checks the database after."""
    admin = service.admin_key()
    other_id, other_key = service.partner(admin, default_version=2)
    other = service.client(**{"X-API-Key": other_key})
    for fmt in ("json", "csv", "xml"):
        example = service.client().get("/partner/contract/example", params={"format": fmt, "version": 2})
        feed = example.content.replace(b"SKU-1001", f"OTHER-{fmt}".encode())
        answer = other.post(
            "/partner/ingest", content=feed, headers={"Content-Type": example.headers["content-type"]}
        )
        assert answer.status_code == 200, answer.text
    _, key = service.partner(admin, default_version=2)
    before = _snapshot(service, other_id)
    audit_before = service.audit()
    assert len(before["other_products"]) == 3
    yield service, service.client(**{"X-API-Key": key}), other_id
    assert _snapshot(service, other_id) == before
    assert service.audit()[: len(audit_before)] == audit_before, "the audit trail is append-only"
    tables = {r["name"] for r in service.sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "product",
        "partner",
        "partner_api_keys",
        "partner_feed_imports",
        "partner_ingest_audit",
    } <= tables
    assert service.sql("PRAGMA integrity_check")[0][0] == "ok"


def _errors(report: dict[str, Any]) -> set[tuple[int, str, str]]:
    return {(e["index"], e["field"], e["code"]) for e in report["errors"]}


def _audited_rejections(service: Service, feed_id: str) -> set[tuple[int, str, str]]:
    entries = service.audit(
        "action = 'feed.item_rejected' AND json_extract(details, '$.feed_id') = ?", [feed_id]
    )
    for entry in entries:
        assert entry["outcome"] == "rejected"
    found = [(e["details"]["index"], e["details"]["field"], e["details"]["code"]) for e in entries]
    assert len(found) == len(set(found)), "each rejection audited once"
    return set(found)


def _stored(service: Service, partner_id: str, sku: str) -> dict[str, Any]:
    rows = service.sql("SELECT * FROM product WHERE partner_id = ? AND sku = ?", [partner_id, sku])
    assert len(rows) == 1, f"{sku} is stored once"
    return dict(rows[0])


def _item(sku: str, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3, **fields}


JSON_ITEMS = [
    ("hostile text, valid", json.dumps(_item("J-0", **HOSTILE_TEXT))),
    ("SQL in the sku", json.dumps(_item("J-1'; DROP TABLE partner_api_keys; --"))),
    ("name too long", json.dumps(_item("J-2", name="A" * 257))),
    ("description too long", json.dumps(_item("J-3", description="d" * 5001))),
    ("wrong types", json.dumps(_item("J-4", price="12.5; DROP TABLE product", quantity="many"))),
    ("unknown field", json.dumps(_item("J-5", is_admin=True, partner_id="someone-else"))),
    ("operator object", json.dumps(_item("J-6", name={"$ne": None}))),
    ("negative price", json.dumps(_item("J-7", price=-1))),
    ("boolean price, fractional quantity", json.dumps(_item("J-8", price=True, quantity=1.5))),
    ("control character", json.dumps(_item("J-9", name="bell\u0007"))),
    ("valid neighbour", json.dumps(_item("J-10"))),
]
JSON_EXPECTED = {
    (1, "sku", "format"),
    (2, "name", "length"),
    (3, "description", "length"),
    (4, "price", "type"),
    (4, "quantity", "type"),
    (5, "is_admin", "unknown_field"),
    (5, "partner_id", "unknown_field"),
    (6, "name", "type"),
    (7, "price", "range"),
    (8, "price", "type"),
    (8, "quantity", "type"),
    (9, "name", "format"),
}


def test_a_json_feed_is_refused_item_by_item_and_valid_hostile_text_is_data(
    hostile: tuple[Service, Any, str],
) -> None:
    service, client, other_id = hostile
    feed = '{"products": [' + ",\n".join(text for _, text in JSON_ITEMS) + "]}"
    answer = client.post(
        "/partner/ingest", content=feed.encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    report = json_of(answer)
    assert report["status"] == "partial"
    assert report["counts"] == {
        "received": 11,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 9,
        "deleted": 0,
        "retired": 0,
    }
    assert _errors(report) == JSON_EXPECTED
    assert _audited_rejections(service, report["feed_id"]) == JSON_EXPECTED
    partner_id = report["partner_id"]

    # Stored byte for byte, in the file and through the API.
    row = _stored(service, partner_id, "J-0")
    api = json_of(client.get("/partner/products/J-0"))
    for field, text in HOSTILE_TEXT.items():
        assert row[field] == text
        assert row[field].encode() == text.encode()
        assert api[field] == text
    assert _stored(service, partner_id, "J-10")["name"] == "Mug"
    skus = [
        r["sku"]
        for r in service.sql("SELECT sku FROM product WHERE partner_id = ? ORDER BY sku", [partner_id])
    ]
    assert skus == ["J-0", "J-10"]
    summary = service.audit(
        "action = 'feed.ingested' AND json_extract(details, '$.feed_id') = ?", [report["feed_id"]]
    )
    assert [(e["outcome"], e["details"]["rejected"]) for e in summary] == [("rejected", 9)]
    assert other_id != partner_id


def test_a_csv_feed_with_injection_formulas_and_an_unknown_column(hostile: tuple[Service, Any, str]) -> None:
    service, client, _ = hostile
    rows = [
        "sku,name,price,currency,quantity,brand",
        f'C-0,"{DROP}",1.50,EUR,2,"=HYPERLINK(""http://evil.example"")"',
        "C-1,Mug,twelve,EUR,2,",
        "C-2,Mug,1.50,EUR,-4,",
        f'C-3,"{"N" * 257}",1.50,EUR,2,',
        "C-4,Mug,1.50,EURO'); --,2,",
        "C-5,Mug,1.50,EUR,2,",
    ]
    feed = ("\r\n".join(rows) + "\r\n").encode()
    report = json_of(client.post("/partner/ingest", content=feed, headers={"Content-Type": "text/csv"}))
    assert report["status"] == "partial", report
    expected = {
        (1, "price", "format"),
        (2, "quantity", "range"),
        (3, "name", "length"),
        (4, "currency", "enum"),
    }
    assert _errors(report) == expected
    assert _audited_rejections(service, report["feed_id"]) == expected
    row = _stored(service, report["partner_id"], "C-0")
    assert row["name"] == DROP
    assert row["brand"] == '=HYPERLINK("http://evil.example")'

    # An unknown column is an unknown field of every row (strict), and the whole feed is refused.
    with_extra = b"sku,name,price,currency,quantity,password\r\nC-9,Mug,1.50,EUR,2,hunter2\r\n"
    refused = client.post("/partner/ingest", content=with_extra, headers={"Content-Type": "text/csv"})
    assert refused.status_code == 422
    body = json_of(refused)
    assert (body["status"], body["error"]) == ("rejected", "feed_rejected")
    assert body["details"]["request_id"] == refused.headers["X-Request-ID"]
    assert _errors(body) == {(0, "password", "unknown_field")}
    assert _audited_rejections(service, body["feed_id"]) == {(0, "password", "unknown_field")}
    assert "hunter2" not in service.audit_text()


def test_an_xml_feed_with_hostile_text_unknown_elements_and_an_entity_attack(
    hostile: tuple[Service, Any, str],
) -> None:
    service, client, _ = hostile
    escaped = DROP.replace("&", "&amp;").replace("<", "&lt;")
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<catalog>
  <product><sku>X-0</sku><name>{escaped}</name><price>1.00</price><currency>EUR</currency><quantity>1</quantity></product>
  <product><sku>X-1</sku><name>n</name><price>abc</price><currency>EUR</currency><quantity>-3</quantity><role>admin</role></product>
  <product><sku>X-2</sku><name>{"x" * 257}</name><price>1.00</price><currency>EUR</currency><quantity>1</quantity></product>
  <product><sku>X-3</sku><name>ok</name><price>1.00</price><currency>EUR</currency><quantity>1</quantity></product>
</catalog>""".encode()
    report = json_of(
        client.post("/partner/ingest", content=feed, headers={"Content-Type": "application/xml"})
    )
    assert report["status"] == "partial", report
    expected = {
        (1, "price", "format"),
        (1, "quantity", "range"),
        (1, "role", "unknown_field"),
        (2, "name", "length"),
    }
    assert _errors(report) == expected
    assert _audited_rejections(service, report["feed_id"]) == expected
    assert _stored(service, report["partner_id"], "X-0")["name"] == DROP

    # External entities never resolve: the document is refused as a whole, and audited.
    xxe = b"""<?xml version="1.0"?><!DOCTYPE catalog [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<catalog><product><sku>X-9</sku><name>&xxe;</name><price>1.00</price><currency>EUR</currency><quantity>1</quantity></product></catalog>"""
    refused = client.post("/partner/ingest", content=xxe, headers={"Content-Type": "application/xml"})
    assert refused.status_code == 422
    body = json_of(refused)
    assert body["feed_error"]["code"] == "forbidden_markup"
    assert (body["error"], body["details"]["feed_error"]) == ("feed_rejected", "forbidden_markup")
    assert body["counts"]["created"] == 0
    rejected = service.audit(
        "action = 'feed.rejected' AND json_extract(details, '$.feed_id') = ?", [body["feed_id"]]
    )
    assert [e["details"]["feed_error"] for e in rejected] == ["forbidden_markup"]
    assert "root:" not in service.audit_text()


def test_a_field_over_the_parser_cap_refuses_the_whole_feed(hostile: tuple[Service, Any, str]) -> None:
    service, client, _ = hostile
    feed = json.dumps({"products": [_item("B-0"), _item("B-1", description="d" * 70_000)]}).encode()
    refused = client.post("/partner/ingest", content=feed, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422
    body = json_of(refused)
    assert body["feed_error"]["code"] == "field_too_large"
    assert body["counts"]["created"] == 0
    assert service.sql("SELECT count(*) FROM product WHERE partner_id = ?", [body["partner_id"]])[0][0] == 0
    rejected = service.audit(
        "action = 'feed.rejected' AND json_extract(details, '$.feed_id') = ?", [body["feed_id"]]
    )
    assert [e["details"]["feed_error"] for e in rejected] == ["field_too_large"]
