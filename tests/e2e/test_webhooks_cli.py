"""`partner-ingest webhooks show|deliveries|test|enable`, and `purge` of the delivery log: the command
run in this process (support/cli.py), on a SQLite file (ADR 0034)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from support import cli

URL = "https://hooks.example.com/partner-ingest"
API_WEBHOOK_FIELDS = (
    "url",
    "enabled",
    "consecutive_failures",
    "disabled_at",
    "disabled_reason",
    "previous_secret_valid_until",
    "created_at",
    "updated_at",
)
"""The fields `GET /partner/webhook` answers: the CLI prints the same form."""


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "PARTNER_INGEST_WEBHOOK_DISABLE_AFTER_FAILURES": "3",
        "PARTNER_INGEST_WEBHOOK_DELIVERY_RETENTION_DAYS": "7",
    }


def _disabled_webhook(database: Path) -> None:
    """What three failed attempts in a row leave (the worker's doing, written here directly)."""
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO partner_webhooks (partner_id, url, secret, enabled, failures, disabled_at,"
            " disabled_reason, created_at, updated_at) VALUES ('acme', ?, 'ciphertext', 0, 3,"
            " '2026-03-01T12:00:00.000000Z', '3 delivery attempts in a row failed',"
            " '2026-03-01T11:00:00.000000Z', '2026-03-01T12:00:00.000000Z')",
            (URL,),
        )


def test_an_operator_reads_a_disabled_webhook_enables_it_queues_a_test_and_reads_the_log(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    database = tmp_path / "service.db"
    assert cli.run(env, "partners", "add", "acme", "--name", "Acme").returncode == 0, "partner"
    none = cli.run(env, "webhooks", "show", "acme")
    assert none.returncode == 2 and none.stderr.startswith("partner-ingest: ") and "webhook" in none.stderr
    _disabled_webhook(database)

    shown = cli.run(env, "webhooks", "show", "acme")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "partner: acme",
        f"url: {URL}",
        "state: disabled since 2026-03-01T12:00:00+00:00: 3 delivery attempts in a row failed",
        "failure run: 3 failed attempt(s) in a row (disabled at 3)",
    ]
    refused = cli.run(env, "webhooks", "test", "acme")
    assert refused.returncode == 2 and "disabled" in refused.stderr, refused.stderr

    enabled = cli.run(env, "webhooks", "enable", "acme")
    assert enabled.returncode == 0, enabled.stderr
    assert "enabled again" in enabled.stdout
    shown_json = cli.run(env, "webhooks", "show", "acme", "--json").stdout
    as_json = json.loads(shown_json)
    assert (as_json["enabled"], as_json["consecutive_failures"], as_json["disabled_reason"]) == (
        True,
        0,
        None,
    )
    assert "ciphertext" not in shown_json + shown.stdout  # never the secret, not even encrypted
    # The form the API answers (adapters_in/json_forms.py), times as ISO 8601, plus whose it is.
    assert set(as_json) == {"partner_id", *API_WEBHOOK_FIELDS}
    assert as_json["created_at"] == "2026-03-01T11:00:00+00:00"
    again = cli.run(env, "webhooks", "enable", "acme")
    assert again.returncode == 0 and "enabled already" in again.stdout
    with sqlite3.connect(database) as conn:
        audited = [
            json.loads(details)
            for (details,) in conn.execute(
                "SELECT details FROM partner_ingest_audit WHERE action = 'webhook.changed' AND actor = 'system'"
            )
        ]
    assert [d["change"] for d in audited] == ["enabled"]  # once: enabling an enabled one writes nothing

    queued = [cli.run(env, "webhooks", "test", "acme") for _ in range(3)]
    assert all(q.returncode == 0 and "webhook.test queued for acme" in q.stdout for q in queued), queued
    log = cli.run(env, "webhooks", "deliveries", "acme", "--limit", "2")
    assert log.returncode == 0, log.stderr
    lines = [json.loads(line) for line in log.stdout.splitlines()]
    assert len(lines) == 2
    assert {(d["event"], d["status"]) for d in lines} == {("webhook.test", "pending")}
    assert all(datetime.fromisoformat(d["created_at"]).tzinfo is not None for d in lines)
    assert [d["id"] for d in lines] == [q.stdout.split(":", 1)[0] for q in queued[:0:-1]]  # newest first
    too_many = cli.run(env, "webhooks", "deliveries", "acme", "--limit", "0")
    assert too_many.returncode == 2 and too_many.stderr.startswith("partner-ingest: "), too_many.stderr
    unknown = cli.run(env, "webhooks", "deliveries", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_purge_deletes_the_finished_deliveries_past_their_retention_never_a_pending_one(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    database = tmp_path / "service.db"
    assert cli.run(env, "partners", "add", "acme", "--name", "Acme").returncode == 0
    _disabled_webhook(database)
    assert cli.run(env, "webhooks", "enable", "acme").returncode == 0
    for _ in range(3):
        assert cli.run(env, "webhooks", "test", "acme").returncode == 0
    with sqlite3.connect(database) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM partner_webhook_deliveries ORDER BY id")]
        old = "2000-01-01T00:00:00.000000Z"
        conn.execute(
            "UPDATE partner_webhook_deliveries SET created_at = ?, status = 'delivered', delivered_at = ?"
            " WHERE id = ?",
            (old, old, ids[0]),
        )
        conn.execute("UPDATE partner_webhook_deliveries SET created_at = ? WHERE id = ?", (old, ids[1]))
    purged = cli.run(env, "purge")
    assert purged.returncode == 0, purged.stderr
    assert "1 webhook delivery(ies)" in purged.stdout, purged.stdout
    with sqlite3.connect(database) as conn:
        left = {row[0] for row in conn.execute("SELECT id FROM partner_webhook_deliveries")}
    assert left == set(ids[1:])  # the old pending one stays: it is still to be delivered
    bad = cli.run({**env, "PARTNER_INGEST_WEBHOOK_DELIVERY_RETENTION_DAYS": "0"}, "purge")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "partner-ingest: PARTNER_INGEST_WEBHOOK_DELIVERY_RETENTION_DAYS must be greater than 0, got 0"
    )
