"""Feeds sent at the same moment to a real server on SQLite share transactions (ADR 0039):
every feed answered 200 is in the database file the moment it is answered, and a feed
that fails in the middle of them (a duplicate SKU in an atomic feed) fails alone, whether
the writer is a thread of the server (ADR 0043) or of its ingest process (ADR 0047)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.feeds import JSONL, jsonl_feed
from support.service import Service

SENDERS = 16


@pytest.mark.parametrize("ingest_process", [False, True], ids=["writer thread", "ingest process"])
def test_concurrent_feeds_are_answered_once_durable_and_a_failing_one_fails_alone(
    serve: Callable[..., Service], ingest_process: bool
) -> None:
    service = serve(rate_limit_per_minute=100_000, ingest_process=ingest_process)
    admin = service.admin_key()
    partner, key = service.partner(admin, default_version=2, allow_policy_override=True)
    bad = jsonl_feed(2) + jsonl_feed(1)  # SKU-00000000 twice

    def send(n: int) -> tuple[int, int, int]:
        body = bad if n == 5 else jsonl_feed(3, first=1000 * n)
        headers = {"X-API-Key": key, "Content-Type": JSONL, "X-Atomic": "true"}
        answer = service.client().post("/partner/ingest", content=body, headers=headers)
        # Read the file itself right after the answer, on a connection of our own.
        with sqlite3.connect(f"file:{service.database}?mode=ro", uri=True) as conn:
            found = conn.execute(
                "SELECT count(*) FROM product WHERE partner_id = ? AND sku BETWEEN ? AND ?",
                (partner, f"SKU-{1000 * n:08d}", f"SKU-{1000 * n + 2:08d}"),
            ).fetchone()[0]
        return n, answer.status_code, found

    with ThreadPoolExecutor(SENDERS) as pool:
        results = list(pool.map(send, range(SENDERS)))

    assert [(n, status) for n, status, _ in results if status != 200] == [(5, 422)]
    assert all(found == 3 for n, status, found in results if n != 5)
    total = service.sql("SELECT count(*) AS n FROM product WHERE partner_id = ?", (partner,))[0]["n"]
    assert total == 3 * (SENDERS - 1)  # the failing feed wrote nothing
