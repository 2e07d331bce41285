"""Large feeds over HTTP, parsed in the service's parser process (ADR 0019).

A real server on loopback, built by bootstrap.build as `serve` builds it, with
the parser-process threshold lowered so that ordinary test feeds cross it. The
same requests to a service with PARSER_PROCESSES=0 must answer the same, and
the SQLite file must hold the same products.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.service import Service, json_of, serving

from partner_ingest.adapters_out.parser_processes import ParserProcesses


def _json(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"products": items}).encode()


def _feeds() -> list[tuple[str, bytes]]:
    items: list[dict[str, Any]] = [
        {"sku": f"L-{n:05d}", "name": f"Large {n}", "price": n % 500 + 0.25, "currency": "EUR", "quantity": n}
        for n in range(3000)
    ]
    broken = [dict(item) for item in items[:1500]]
    broken[7]["price"] = "free"  # one invalid item
    broken[900]["sku"] = broken[3]["sku"]  # and a repeat
    csv_rows = "sku,name,price,currency,quantity\r\n" + "".join(
        f"C-{n:05d},Csv {n},{n % 90}.5,EUR,{n}\r\n" for n in range(3000)
    )
    return [
        ("application/json", _json(items)),
        ("application/json", _json(broken)),
        ("application/json", _json(items)[:-5000]),  # truncated: a feed error
        ("text/csv", csv_rows.encode()),
    ]


def _answers(service: Service) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    admin = service.admin_key()
    _, key = service.partner(admin, default_version=1)
    client = service.client(**{"X-API-Key": key})
    answers = []
    for media_type, body in _feeds():
        response = client.post("/partner/ingest", content=body, headers={"Content-Type": media_type})
        answer = json_of(response)
        answer.pop("feed_id", None)
        answer.pop("partner_id", None)
        answer.get("details", {}).pop("request_id", None)
        answers.append({"status_code": response.status_code, **answer})
    products = [
        tuple(row)
        for row in service.sql("SELECT sku, name, price, currency, quantity FROM product ORDER BY sku")
    ]
    return answers, products


def test_large_feeds_answer_the_same_from_the_parser_process(tmp_path: Path) -> None:
    # The parser helper looked at is this process's: the feeds are ingested here, not in an
    # ingest process (ADR 0047), which has helpers of its own.
    with serving(tmp_path / "helpers.db", parser_min_bytes=16 * 1024, ingest_process=False) as service:
        with_helpers = _answers(service)
        parsing = service.app.ingest._parsing
        assert isinstance(parsing, ParserProcesses) and len(parsing.pids) == 1  # it was used, and kept
    with serving(tmp_path / "in-thread.db", parser_processes=0) as service:
        in_thread = _answers(service)
        assert not isinstance(service.app.ingest._parsing, ParserProcesses)
    assert with_helpers == in_thread
    answers, products = with_helpers
    assert [a["status"] for a in answers] == ["accepted", "partial", "rejected", "accepted"]
    assert [a["status_code"] for a in answers] == [200, 200, 422, 200]
    assert answers[1]["counts"]["rejected"] == 2  # the invalid item and the repeat
    assert len(products) == 6000  # 3,000 from json (the partial feed changed none), 3,000 from csv
