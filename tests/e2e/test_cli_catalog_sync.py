"""The command line keeps a catalog in sync: --feed-mode, a partner's feed mode, held snapshots settled.

The command run in this process (support/cli.py), on a SQLite file of the test's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from support import cli


def _feed(path: Path, skus: range) -> Path:
    lines = [
        json.dumps({"sku": f"S{n}", "name": f"Item {n}", "price": 5, "currency": "EUR", "quantity": 1})
        for n in skus
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_snapshot_held_at_the_command_line_is_listed_released_once_and_applied(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    added = cli.run(env, "partners", "add", "acme", "--name", "Acme", "--feed-mode", "upsert", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["feed_mode"] == "upsert"
    assert (
        cli.run(env, "ingest", str(_feed(tmp_path / "all.jsonl", range(10))), "--partner", "acme").returncode
        == 0
    )

    snapshot = _feed(tmp_path / "few.jsonl", range(5))
    held = cli.run(env, "ingest", str(snapshot), "--partner", "acme", "--feed-mode", "snapshot", "--json")
    assert held.returncode == 0, held.stderr
    report = json.loads(held.stdout)
    assert (report["status"], report["counts"]["retired"]) == ("held", 5)

    listed = cli.run(env, "imports", "held")
    assert report["feed_id"] in listed.stdout

    released = cli.run(env, "imports", "release", report["feed_id"])
    assert released.returncode == 0, released.stderr
    assert "5 retired" in released.stdout
    again = cli.run(env, "imports", "release", report["feed_id"])
    assert again.returncode != 0
    assert again.stderr.startswith("partner-ingest: ") and "Traceback" not in again.stderr
    assert len(again.stderr.splitlines()) == 1

    bad = cli.run(env, "ingest", str(snapshot), "--partner", "acme", "--feed-mode", "mirror")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
