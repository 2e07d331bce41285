"""The console script explains itself: `--version`, `settings` checked as serve checks them and
shown with each value's source, and an `example` that `validate` accepts with no --version on
either side. The command run in this process (support/cli.py), but for one ingest as the console
script ends it."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

from support import cli, processes


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}
    env["PARTNER_INGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'service.db'}"
    env.update({f"PARTNER_INGEST_{k.upper()}": v for k, v in settings.items()})
    return env


def test_version(tmp_path: Path) -> None:
    done = cli.run(_env(tmp_path), "--version")
    assert (
        done.returncode == 0
        and done.stdout.strip() == f"partner-ingest {metadata.version('partner-catalog-ingest')}"
    )


def test_settings_show_values_in_effect_with_their_source_and_refuse_what_serve_refuses(
    tmp_path: Path,
) -> None:
    done = cli.run(_env(tmp_path, port="9001", diagnostics_retention_days="14"), "settings")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "PARTNER_INGEST_PORT=9001  (env)" in lines
    assert "PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS=14  (env)" in lines
    assert "PARTNER_INGEST_HOST=127.0.0.1  (default)" in lines
    assert "PARTNER_INGEST_KEY_HASH_SECRET=(secret)  (generated)" in lines
    described = [line for line in lines if line.startswith("    ")]
    assert len(described) == len(lines) // 2 and all(line.strip() for line in described)
    for setting, value, named in (
        ("port", "abc", "PARTNER_INGEST_PORT"),
        ("vault_keys", "not-a-fernet-key", "PARTNER_INGEST_VAULT_KEYS"),
        ("database_url", "sqlite:////no/such/directory/x.db", "PARTNER_INGEST_DATABASE_URL"),
    ):
        bad = cli.run(_env(tmp_path, **{setting: value}), "settings")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and named in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_an_example_validates_with_no_version_on_either_side(tmp_path: Path) -> None:
    env = _env(tmp_path)
    example = cli.run(env, "example", "--format", "jsonl")
    assert example.returncode == 0, example.stderr
    checked = cli.run(env, "validate", "-", "--format", "jsonl", stdin=example.stdout)
    assert checked.returncode == 0, (checked.stdout, checked.stderr)


def test_ingest_shows_progress_with_rate_elapsed_and_time_left_only_when_asked(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert cli.run(env, "partners", "add", "acme", "--name", "Acme").returncode == 0
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(
            f'{{"sku": "S-{n}", "name": "Item {n}", "price": 1.5, "currency": "EUR", "quantity": 1}}\n'
            for n in range(2000)
        )
    )
    quiet = cli.run(env, "ingest", str(feed), "--partner", "acme")
    assert quiet.returncode == 0 and quiet.stderr == ""  # not a terminal: nothing drawn
    # Other content: the same bytes again are a repeat, answered without reading them.
    feed.write_text(feed.read_text().replace('"price": 1.5', '"price": 2.5'))
    # The console script itself: an ingest ends its process at once (os._exit, ADR 0039), and what it
    # drew and reported still reaches both streams.
    shown = processes.run(env, "ingest", str(feed), "--partner", "acme", "--progress")
    assert shown.returncode == 0, shown.stderr
    assert "reading" in shown.stderr and "/s" in shown.stderr, shown.stderr
    assert "elapsed" in shown.stderr and "left" in shown.stderr
    assert "accepted" in shown.stdout and "accepted" not in shown.stderr  # the report stays on stdout
