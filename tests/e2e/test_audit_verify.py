"""The audit chain end to end (ADR 0028): `partner-ingest audit verify` (run in this process)
and the periodic verdict in `/metrics`, before and after the database file's owner edits history."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from support import cli
from support.http import tls
from support.service import Service, forge_key


def verify(database: Path) -> cli.Ran:
    env = {"PATH": os.environ["PATH"], "HOME": str(database.parent), "LC_ALL": "C.UTF-8"}
    env["PARTNER_INGEST_DATABASE_URL"] = f"sqlite:///{database}"
    env["PARTNER_INGEST_PARSER_PROCESSES"] = "0"
    return cli.run(env, "audit", "verify")


def metric(service: Service, name: str) -> float:
    text = httpx2.get(f"{service.base_url}/metrics", verify=tls(), timeout=30).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, text
    return float(found.group(1))


def tamper(database: Path, statement: str) -> None:
    """What the owner of the file can do: drop the append-only triggers and edit the trail."""
    conn = sqlite3.connect(database)
    try:
        conn.executescript(
            "DROP TRIGGER partner_ingest_audit_no_update; DROP TRIGGER partner_ingest_audit_no_delete;"
            f" {statement};"
        )
    finally:
        conn.close()


def test_verify_reports_the_count_then_the_first_broken_link(serve: Callable[..., Service]) -> None:
    service = serve(audit_verify_seconds=0.2)
    for _ in range(4):  # four failed authentications: four audit entries
        response = service.client().get("/partner/jobs", headers={"Authorization": f"Bearer {forge_key()}"})
        assert response.status_code == 401
    count = len(service.audit())
    assert count >= 4
    assert metric(service, "partner_ingest_audit_chain_ok") == 1
    assert metric(service, "partner_ingest_audit_chain_entries") >= count
    assert metric(service, "partner_ingest_audit_chain_verified_timestamp_seconds") > 0

    done = verify(service.database)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"audit chain OK: (\d+) entries verified \(newest entry \d+\)\n", done.stdout)

    second = service.audit()[1]["id"]
    tamper(service.database, f"UPDATE partner_ingest_audit SET client = '198.51.100.1' WHERE id = {second}")
    done = verify(service.database)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"audit chain BROKEN at entry {second}: content altered")
    assert len(done.stderr.splitlines()) == 1

    # The periodic verification sees it too, once its interval is over.
    deadline = 50
    while metric(service, "partner_ingest_audit_chain_ok") != 0 and deadline:
        deadline -= 1
        time.sleep(0.1)
    assert metric(service, "partner_ingest_audit_chain_ok") == 0
    assert metric(service, "partner_ingest_audit_chain_entries") == 1


def test_a_deleted_entry_fails_verify_at_the_entry_after_it(service: Service) -> None:
    for _ in range(3):
        service.client().get("/partner/jobs", headers={"Authorization": f"Bearer {forge_key()}"})
    ids = [row["id"] for row in service.audit()]
    tamper(service.database, f"DELETE FROM partner_ingest_audit WHERE id = {ids[1]}")
    done = verify(service.database)
    assert done.returncode == 1
    assert done.stderr.startswith(f"audit chain BROKEN at entry {ids[2]}: link broken")
