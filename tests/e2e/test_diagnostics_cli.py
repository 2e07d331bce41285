"""`partner-ingest purge`: the diagnostics past PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS go, the
rest stay; the command run in this process (support/cli.py), on a SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from support import cli


def test_purge_deletes_only_the_diagnostics_past_their_retention(tmp_path: Path) -> None:
    database = tmp_path / "service.db"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{database}",
        "PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS": "7",
    }
    assert cli.run(env, "partners", "add", "acme", "--name", "Acme", "--mode", "lenient").returncode == 0
    feed = tmp_path / "feed.jsonl"
    good = {"sku": "A", "name": "A", "price": "1.00", "currency": "EUR", "quantity": 1}
    feed.write_text(
        "\n".join(json.dumps(i) for i in [good, {**good, "sku": "B", "price": "x"}, {"sku": "C"}]) + "\n"
    )
    done = cli.run(env, "ingest", str(feed), "--partner", "acme")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as conn:
        kept = conn.execute("SELECT count(*) FROM partner_ingest_diagnostics").fetchone()[0]
        assert kept >= 2
        # The first item's errors were recorded 8 days ago; the rest stay within 7 days.
        conn.execute(
            "UPDATE partner_ingest_diagnostics SET recorded_at = '2000-01-01T00:00:00.000000Z' WHERE sku = 'B'"
        )
    purged = cli.run(env, "purge")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("purged 1 diagnostic(s)"), purged.stdout
    with sqlite3.connect(database) as conn:
        assert {row[0] for row in conn.execute("SELECT sku FROM partner_ingest_diagnostics")} == {"C"}
    bad = cli.run({**env, "PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS": "0"}, "purge")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "partner-ingest: PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS must be greater than 0, got 0"
    )
