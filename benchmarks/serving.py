"""Real `partner-ingest serve` processes for the benchmarks that measure the service from outside.

`served(env, logs)` starts the venv's `partner-ingest serve` on 127.0.0.1 and a
free port, yields its base URL once it prints that it serves, and stops it with
SIGTERM. `partner_keys(env, count, limit)` creates partners (each with its own
per-minute limit) and their keys through bootstrap, as the admin API would.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases.manage_partners import PartnerChanges

CLI = str(Path(sys.executable).parent / "partner-ingest")
_SERVING = re.compile(r"serving (http://\S+) on")


def partner_keys(env: dict[str, str], count: int, limit: int) -> list[str]:
    """`count` new partners of `limit` requests per minute each; their keys, in order."""
    app = bootstrap.build(Settings.from_env(env))
    try:
        keys = []
        for n in range(count):
            partner_id = f"load-{n:03d}"
            changes = PartnerChanges(name=f"Load {n}", default_version=1, rate_limit_per_minute=limit)
            app.partners.create(partner_id, changes, actor="benchmark")
            keys.append(app.keys.create(KeyRole.PARTNER, partner_id, actor="benchmark").plaintext)
        return keys
    finally:
        app.close()


@contextmanager
def served(env: dict[str, str], logs: Path, name: str = "serve") -> Iterator[str]:
    """A running `partner-ingest serve`; its base URL."""
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1", "--port", "0"], env=env, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := _SERVING.search(out.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {err.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def fresh_schema(url: str, name: str) -> Iterator[str]:
    """`url` with a PostgreSQL schema of its own (`name_<random>`) on its search path, dropped after."""
    import psycopg
    from psycopg import sql

    schema = f"{name}_{secrets.token_hex(6)}"
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def fresh_prefix(url: str, name: str) -> Iterator[str]:
    """A Redis key prefix of its own (`pci-name-<random>`), its keys deleted after."""
    import redis

    prefix = f"pci-{name}-{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            found = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if found:
                client.delete(*found)
        finally:
            client.close()
