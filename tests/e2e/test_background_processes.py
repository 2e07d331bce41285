"""The background services as real processes: `partner-ingest scheduler` and `worker` on
their own, and `serve` stopped by SIGTERM while its in-process worker runs a job.

Whatever stops `serve`, no job is lost and none stays leased to a process that has
gone: the running job finishes inside the grace period, or is given back (or its
lease lapses) and the next worker completes it exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import httpx2
import pytest
from support.feeds import JSONL, Reply, feed_server, jsonl_feed, wait_for
from support.http import admin_key, e2e_settings, new_partner, running_server

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.domain.model import JobStatus
from partner_ingest.domain.model.feed_import import ImportStatus

pytestmark = pytest.mark.slow

FEED = b'{"products": [{"sku": "S-1", "name": "Scheduled", "price": 3, "currency": "EUR", "quantity": 4}]}'
BIG = 40_000
UNFINISHED = 4 * BIG
"""The job serve is stopped in with no grace period: at about 140,000 jsonl items a second on a
quiet machine, BIG alone can end in the 0.3-0.4 s between SIGTERM and the worker's stop."""
"""Items of a feed that takes about half a second to ingest on a fast machine, so a signal sent as
soon as the job is seen running (polled every 0.02 s) lands while it runs."""


def command(*args: str) -> list[str]:
    """`partner-ingest <args>` with this interpreter."""
    return [sys.executable, "-m", "partner_ingest.adapters_in.cli.main", *args]


def environment(database: Path, **settings: str) -> dict[str, str]:
    """This test's settings and nothing of the caller's PARTNER_INGEST_* (test URLs aside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_INGEST_")}
    env.update(
        PARTNER_INGEST_DATABASE_URL=f"sqlite:///{database}",
        PARTNER_INGEST_LOG_LEVEL="WARNING",
        PARTNER_INGEST_LOG_FORMAT="text",
        **{f"PARTNER_INGEST_{name.upper()}": value for name, value in settings.items()},
    )
    return env


def run(database: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run one command to its end."""
    return subprocess.run(
        command(*args),
        env=environment(database, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def applied_imports(app: Application, partner: str) -> int:
    """How many of the partner's feeds were applied (the ledger)."""
    return sum(1 for entry in app.imports.recent(partner, limit=200) if entry.status is ImportStatus.APPLIED)


def test_the_scheduler_and_the_worker_run_as_processes_of_their_own(tmp_path: Path) -> None:
    database = tmp_path / "processes.db"
    app = bootstrap.build(e2e_settings(str(database), fetch_allow_networks="127.0.0.0/8"))
    try:
        with (
            feed_server({"/feed.json": Reply(200, FEED)}) as site,
            running_server(app) as url,  # no in-process services: the processes below do the work
            httpx2.Client(base_url=url, timeout=30) as client,
        ):
            admin = admin_key(app)
            partner, _ = new_partner(client, admin, endpoint=site.url("/feed.json"))
            created = client.post(
                f"/admin/partners/{partner}/schedules",
                json={"interval_seconds": 300},
                headers={"X-API-Key": admin},
            )
            assert created.status_code == 201, created.text

            scheduled = run(database, "scheduler", "--once", fetch_allow_networks="127.0.0.0/8")
            [queued] = client.get(
                "/admin/jobs", params={"partner_id": partner}, headers={"X-API-Key": admin}
            ).json()["jobs"]
            worked = run(database, "worker", "--once")
            done = client.get(f"/admin/jobs/{queued['id']}", headers={"X-API-Key": admin}).json()

        assert scheduled.returncode == 0, scheduled.stderr
        assert queued["status"] == "queued" and queued["source"] == "pull"
        assert [path for path, _ in site.requests] == ["/feed.json"]
        assert worked.returncode == 0, worked.stderr
        assert done["status"] == "succeeded" and done["report"]["counts"]["created"] == 1
        assert app.products.get(partner, "S-1").quantity == 4
    finally:
        app.close()


class Serve:
    """`partner-ingest serve` on a free port, read until it says where it serves."""

    def __init__(self, database: Path, **settings: str) -> None:
        self.process = subprocess.Popen(
            command("serve", "--port", "0"),
            env=environment(database, worker_poll_seconds="0.05", in_process_scheduler="false", **settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.admin = ""
        self.url = ""
        self.output: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.strip().startswith("ADMIN_KEY="):
                self.admin = line.strip().removeprefix("ADMIN_KEY=")
            if line.startswith("partner-ingest: serving "):
                self.url = line.split()[2]
                break
        assert self.url and self.admin, "".join(self.output)
        self._rest = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._rest.start()
        self.errors: list[str] = []
        assert self.process.stderr is not None
        self._errors = threading.Thread(target=self._collect, args=(self.process.stderr,), daemon=True)
        self._errors.start()
        # The socket is bound before that line, but listens only once uvicorn has started.
        wait_for(self._answers, 30, "serve to accept connections", every=0.05)

    def _answers(self) -> bool:
        assert self.process.poll() is None, "".join(self.output + self.errors)
        try:
            return httpx2.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx2.TransportError:
            return False

    def _read(self, stream: IO[str]) -> None:
        self.output.extend(stream)

    def _collect(self, stream: IO[str]) -> None:
        self.errors.extend(stream)

    def terminate(self) -> int:
        """SIGTERM, then its exit code (once its output is read to the end)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=120)
        self._rest.join(10)
        self._errors.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


@pytest.fixture
def serve_database(tmp_path: Path) -> Path:
    """The SQLite file a `serve` process of this test uses."""
    return tmp_path / "serve.db"


def start_big_job(server: Serve, items: int = BIG) -> tuple[str, str, str]:
    """A partner, its key, and the id of a big job, once serve's worker has started it."""
    with httpx2.Client(base_url=server.url, timeout=60) as client:
        partner, key = new_partner(client, server.admin, rate_limit_per_minute=100_000)
        answer = client.post(
            "/partner/ingest",
            content=jsonl_feed(items),
            headers={"X-API-Key": key, "Content-Type": JSONL, "Prefer": "respond-async"},
        )
        assert answer.status_code == 202, answer.text
        job_id: str = answer.json()["id"]

        def running() -> bool:
            status = client.get(f"/partner/jobs/{job_id}", headers={"X-API-Key": key}).json()["status"]
            assert status != "succeeded", "the job finished before the test could stop serve mid-feed"
            return bool(status == "running")

        wait_for(running, 30, "serve's worker to start the job", every=0.02)
    return partner, key, job_id


def test_sigterm_lets_serve_finish_the_running_job_before_it_exits(serve_database: Path) -> None:
    server = Serve(serve_database)
    partner, _, job_id = start_big_job(server)

    code = server.terminate()

    assert code == 0, "".join(server.output + server.errors)
    assert "partner-ingest: stopped" in "".join(server.output)
    app = bootstrap.build(e2e_settings(str(serve_database)))
    try:
        job = app.jobs.get(job_id, partner_id=None)
        assert job.status is JobStatus.SUCCEEDED and job.attempts == 1 and job.lease_token is None
        assert job.report is not None and job.report.counts.created == BIG
        assert applied_imports(app, partner) == 1
    finally:
        app.close()


def test_a_job_that_cannot_finish_in_the_grace_period_is_released_and_another_worker_completes_it(
    serve_database: Path,
) -> None:
    server = Serve(serve_database, shutdown_grace_seconds="0")
    partner, _, job_id = start_big_job(server, UNFINISHED)

    code = server.terminate()

    assert code == 0, "".join(server.output + server.errors)
    app = bootstrap.build(e2e_settings(str(serve_database)))
    try:
        released = app.jobs.get(job_id, partner_id=None)
        # Given back, not left leased: queued at once, the interrupted attempt not counted, nothing kept.
        assert released.status is JobStatus.QUEUED and released.lease_token is None
        assert released.attempts == 0 and released.last_error is None
        assert app.products.page(partner, limit=1).products == ()
        assert applied_imports(app, partner) == 0

        worked = run(serve_database, "worker", "--once")

        assert worked.returncode == 0, worked.stderr
        done = app.jobs.get(job_id, partner_id=None)
        assert done.status is JobStatus.SUCCEEDED and done.attempts == 1
        assert done.report is not None and done.report.counts.created == UNFINISHED
        assert applied_imports(app, partner) == 1  # applied exactly once
    finally:
        app.close()
