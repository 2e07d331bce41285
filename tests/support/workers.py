"""Real `partner-ingest` processes on any store: their settings, feeds, and waiting on them.

Shared by the process tests of every SQL store, so that a property proved with
worker processes on SQLite is proved by the same code on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from partner_ingest.adapters_in.bootstrap import Application, build
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model import Job, Partner
from partner_ingest.domain.use_cases import FeedSubmission

__all__ = ["TESTS", "add_partners", "app_for", "feed", "settings_env", "start", "stop", "submit", "wait_for"]

TESTS = Path(__file__).resolve().parents[1]
# Fixed secrets, so that every process of one test hashes and decrypts alike (PostgreSQL needs them).
KEY_HASH_SECRET = "test-key-hash-secret-" + "x" * 16
VAULT_KEY = "dGVzdC12YXVsdC1rZXktdGVzdC12YXVsdC1rZXktMDA="


def settings_env(database_url: str, **extra: str) -> dict[str, str]:
    """PARTNER_INGEST_* variables for a child process on `database_url` (others from this one dropped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_INGEST_")}
    env.update(
        PARTNER_INGEST_DATABASE_URL=database_url,
        PARTNER_INGEST_KEY_HASH_SECRET=KEY_HASH_SECRET,
        PARTNER_INGEST_VAULT_KEYS=VAULT_KEY,
        PARTNER_INGEST_WORKER_POLL_SECONDS="0.05",
        PARTNER_INGEST_LOG_LEVEL="WARNING",
        PYTHONPATH=str(TESTS),
        **{f"PARTNER_INGEST_{k.upper()}": v for k, v in extra.items()},
    )
    return env


def app_for(database_url: str, **settings: Any) -> Application:
    """The application, built as the processes build it (with these other `settings`), with partner `acme`."""
    app = build(
        Settings(database_url=database_url, key_hash_secret=KEY_HASH_SECRET, vault_keys=VAULT_KEY, **settings)
    )
    with app.uow() as uow:
        if uow.partners.get("acme") is None:
            uow.partners.add(Partner(id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
            uow.commit()
    return app


def feed(items: int, *, first: int = 0) -> bytes:
    """A JSON Lines v1 feed of `items` products SKU-<first>...; product n is fully known from n."""
    return b"".join(
        (
            f'{{"sku": "SKU-{n:08d}", "name": "Item {n}", "price": {n % 997}.50, '
            f'"currency": "EUR", "quantity": {n % 13}, "gtin": "4006381333931"}}\n'
        ).encode()
        for n in range(first, first + items)
    )


def add_partners(app: Application, *partner_ids: str) -> None:
    """Create these partners (beside `acme`)."""
    with app.uow() as uow:
        for pid in partner_ids:
            uow.partners.add(Partner(id=pid, name=pid, created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        uow.commit()


def submit(app: Application, body: bytes, *, partner_id: str = "acme") -> Job:
    """Submit `body` as an async job of `partner_id`."""
    job = app.submit_job(
        FeedSubmission(partner_id=partner_id, body=io.BytesIO(body), format="jsonl", version=1),
        body_bytes=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
    )
    assert isinstance(job, Job)  # no Idempotency-Key: always a new job
    return job


def start(database_url: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    """`partner-ingest <args>` as a child process on `database_url`."""
    return subprocess.Popen(
        [sys.executable, "-m", "partner_ingest.adapters_in.cli.main", *args],
        env=settings_env(database_url, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, *, every: float = 0.05) -> None:
    """Poll `predicate` every `every` seconds until true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the current job finishes), then wait for the exit."""
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=60)
    if proc.stderr:
        proc.stderr.close()
