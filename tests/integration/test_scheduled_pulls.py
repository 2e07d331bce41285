"""Scheduled pulls against a real HTTP server on loopback (S4): every case ends in a clear
fetch outcome or job, with an audit entry; credentials never appear in the database or logs."""

from __future__ import annotations

import gzip
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from support.sqlite_files import migrated_database

from partner_ingest.adapters_in.bootstrap import Application, build
from partner_ingest.adapters_in.scheduler import Scheduler
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_in.worker import process_next_job_once
from partner_ingest.domain.model import AuditAction, AuditQuery, JobStatus, Partner

FEED = b'{"products": [{"sku": "P-1", "name": "Pulled", "price": 5, "currency": "EUR", "quantity": 1}]}'
SECRET = "Bearer s3cr3t-partner-token-0123456789"
HEADER_SECRET = "h3ad3r-s3cr3t-value-9876543210"


class Partners(http.server.BaseHTTPRequestHandler):
    """A partner's feed server with every behaviour a scheduler must survive."""

    hits: dict[str, int] = {}  # noqa: RUF012 - shared by the handler threads on purpose
    seen_auth: list[str | None] = []  # noqa: RUF012
    release = threading.Event()
    """What /held.json waits for before it answers: the test decides when its fetch ends."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        Partners.hits[self.path] = Partners.hits.get(self.path, 0) + 1
        Partners.seen_auth.append(self.headers.get("Authorization"))
        if self.path == "/feed.json":
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.end_headers()
                return
            self._send(200, FEED, etag='"v1"')
        elif self.path == "/same.json":
            self._send(200, FEED)
        elif self.path == "/slow.json":
            time.sleep(1.5)
            self._send(200, FEED)
        elif self.path == "/held.json":
            Partners.release.wait(10)
            self._send(200, FEED)
        elif self.path == "/huge.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b" " * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/redirect-private.json":
            self.send_response(302)
            self.send_header("Location", "http://10.1.2.3/feed.json")
            self.end_headers()
        elif self.path == "/error.json":
            self._send(500, b"oops", content_type="text/plain")
        elif self.path == "/feed.gz":
            self._send(200, gzip.compress(FEED), encoding="gzip")
        else:
            self._send(404, b"no", content_type="text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        etag: str | None = None,
        content_type: str = "application/json",
        encoding: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    Partners.hits = {}
    Partners.seen_auth = []
    Partners.release = threading.Event()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Partners)
    httpd.daemon_threads = True
    # shutdown() waits for the loop to look at its flag, once a poll: 0.5 s by default.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def fetch_timeout() -> float:
    """Room for any loopback fetch on a loaded machine. A test that waits a timeout out on purpose
    (against /slow.json) passes QUICK_TIMEOUT instead: the timeout's length is not its point."""
    return 0.8


QUICK_TIMEOUT = 0.4


@pytest.fixture
def app(tmp_path: Path, fetch_timeout: float) -> Iterator[Application]:
    settings = Settings(
        database_url=f"sqlite:///{migrated_database(tmp_path / 'pulls.db')}",
        fetch_allow_networks="127.0.0.0/8",
        fetch_timeout_seconds=fetch_timeout,
        fetch_max_bytes=1024 * 1024,
        breaker_failures=2,
        breaker_reset_seconds=3600,
    )
    application = build(settings)
    yield application
    application.close()


def add_partner(app: Application, pid: str, endpoint: str) -> None:
    with app.uow() as uow:
        uow.partners.add(
            Partner(
                id=pid,
                name=pid,
                created_at=app.clock.now(),
                endpoint=endpoint,
                endpoint_auth=app.vault.encrypt(SECRET),
                endpoint_headers={"X-Partner-Token": app.vault.encrypt(HEADER_SECRET)},
            )
        )
        uow.commit()
    app.schedules.create(pid, actor="test", interval_seconds=300)


def audit(app: Application, partner: str) -> list[tuple[str, dict[str, object]]]:
    entries = app.audit.query(AuditQuery(partner_id=partner, limit=100))
    return [(str(e.action), dict(e.details)) for e in reversed(entries) if e.action.value.startswith("fetch")]


def test_a_due_feed_is_fetched_with_its_credentials_and_submitted_as_a_job(
    app: Application, server: str
) -> None:
    add_partner(app, "acme", f"{server}/feed.json")
    [result] = Scheduler(app.pull_feeds).run_once()
    assert result.outcome == "fetched" and result.job_id is not None
    assert Partners.seen_auth == [SECRET]
    [(action, details)] = audit(app, "acme")
    assert action == "fetch" and details["status"] == 200 and details["bytes"] == len(FEED)
    assert details["host"] == "127.0.0.1" and details["outcome"] == "fetched"
    processed = process_next_job_once(app)
    assert processed is not None and processed.report is not None, (
        f"the fetched feed was not ingested: {processed}"
    )
    assert processed.report.counts.created == 1
    assert app.jobs.get(result.job_id, partner_id="acme").status is JobStatus.SUCCEEDED


def test_the_next_pull_is_conditional_and_nothing_to_do_when_unchanged(app: Application, server: str) -> None:
    add_partner(app, "acme", f"{server}/feed.json")
    add_partner(app, "same", f"{server}/same.json")
    first = Scheduler(app.pull_feeds).run_once()
    assert {r.outcome for r in first} == {"fetched"}
    with app.uow() as uow:  # make both due again
        for s in uow.schedules.all():
            uow.schedules.update(attrs.evolve(s, next_run_at=app.clock.now() - timedelta(seconds=1)))
        uow.commit()
    second = {r.partner_id: r for r in Scheduler(app.pull_feeds).run_once()}
    assert second["acme"].outcome == "not_modified" and second["acme"].job_id is None
    assert second["same"].outcome == "unchanged" and second["same"].job_id is None
    assert len(app.jobs.recent()) == 2


@pytest.mark.parametrize(
    ("path", "outcome", "fetch_timeout"),
    [
        pytest.param("/slow.json", "timeout", QUICK_TIMEOUT, id="/slow.json-timeout"),
        pytest.param("/huge.json", "too_large", 0.8, id="/huge.json-too_large"),
        pytest.param(
            "/redirect-private.json", "refused_address", 0.8, id="/redirect-private.json-refused_address"
        ),
        pytest.param("/error.json", "http_error", 0.8, id="/error.json-http_error"),
        pytest.param("/missing.json", "http_error", 0.8, id="/missing.json-http_error"),
    ],
)
def test_every_failed_fetch_ends_in_a_clear_outcome_and_an_audit_entry(
    app: Application, server: str, path: str, outcome: str, fetch_timeout: float
) -> None:
    add_partner(app, "acme", server + path)
    [result] = Scheduler(app.pull_feeds).run_once()
    assert result.outcome == outcome and result.job_id is None
    [(action, details)] = audit(app, "acme")
    assert action == "fetch" and details["outcome"] == outcome
    with app.uow() as uow:
        [schedule] = uow.schedules.all("acme")
    assert schedule.next_run_at > app.clock.now()  # rescheduled, not stuck


def test_an_endpoint_that_keeps_failing_opens_its_circuit_and_later_fetches_are_skipped(
    app: Application, server: str
) -> None:
    add_partner(app, "acme", f"{server}/error.json")
    scheduler = Scheduler(app.pull_feeds)
    for _ in range(3):
        scheduler.run_once()
        with app.uow() as uow:
            [s] = uow.schedules.all()
            uow.schedules.update(attrs.evolve(s, next_run_at=app.clock.now() - timedelta(seconds=1)))
            uow.commit()
    actions = [a for a, _ in audit(app, "acme")]
    assert actions == ["fetch", "fetch", "fetch.skipped"]
    assert Partners.hits["/error.json"] == 2
    [circuit] = app.fetch_health.circuits()
    assert circuit.partner_id == "acme" and str(circuit.state) == "open" and circuit.failures == 2


def test_fetching_far_more_often_than_allowed_raises_a_fetch_anomaly(app: Application, server: str) -> None:
    add_partner(app, "acme", f"{server}/same.json")
    anomalies: list[bool] = []
    for _ in range(8):
        with app.uow() as uow:
            [s] = uow.schedules.all()
            uow.schedules.update(attrs.evolve(s, next_run_at=app.clock.now() - timedelta(seconds=1)))
            uow.commit()
        anomalies += [r.anomaly for r in Scheduler(app.pull_feeds).run_once()]
    assert anomalies[:4] == [False] * 4  # below the minimum that can be anomalous
    assert not any(anomalies)  # 8 an hour is within the default 60
    tight = attrs.evolve(app.pull_feeds._anomaly, per_hour=5)
    app.pull_feeds._anomaly = tight
    with app.uow() as uow:
        [s] = uow.schedules.all()
        uow.schedules.update(attrs.evolve(s, next_run_at=app.clock.now() - timedelta(seconds=1)))
        uow.commit()
    [result] = Scheduler(app.pull_feeds).run_once()
    assert result.anomaly
    [entry] = app.audit.query(AuditQuery(action=AuditAction.FETCH_ANOMALY))
    assert entry.partner_id == "acme" and entry.details["fetches_last_hour"] == 9


def test_an_anomaly_limit_below_five_fetches_an_hour_governs(tmp_path: Path, server: str) -> None:
    """`PARTNER_INGEST_FETCH_ANOMALY_PER_HOUR=2`: the third fetch in an hour is anomalous (no
    floor of five fetches hides it)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tight.db'}",
        fetch_allow_networks="127.0.0.0/8",
        fetch_anomaly_per_hour=2,
    )
    app = build(settings)
    try:
        add_partner(app, "acme", f"{server}/same.json")
        anomalies: list[bool] = []
        for _ in range(3):
            with app.uow() as uow:
                [s] = uow.schedules.all()
                uow.schedules.update(attrs.evolve(s, next_run_at=app.clock.now() - timedelta(seconds=1)))
                uow.commit()
            anomalies += [r.anomaly for r in Scheduler(app.pull_feeds).run_once()]
        [entry] = app.audit.query(AuditQuery(action=AuditAction.FETCH_ANOMALY))
    finally:
        app.close()
    assert anomalies == [False, False, True]
    assert entry.partner_id == "acme"
    assert entry.details["fetches_last_hour"] == 3 and entry.details["limit_per_hour"] == 2
    assert entry.details["reason"] == "above limit"


def test_no_plaintext_credential_in_the_database_files_or_the_logs(
    app: Application, server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_partner(app, "acme", f"{server}/feed.json")
    Scheduler(app.pull_feeds).run_once()
    process_next_job_once(app)
    rotated = app.rotate_credentials(actor="test")
    assert rotated == 1
    with app.uow() as uow:
        uow.commit()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("pulls.db*"))
    assert b"Partner" in stored or b"acme" in stored  # we are reading the right files
    for secret in (SECRET, HEADER_SECRET):
        assert secret.encode() not in stored
        assert secret not in caplog.text
        for entry in app.audit.query(AuditQuery(limit=1000)):
            assert secret not in str(entry.details)
    with app.uow() as uow:
        partner = uow.partners.get("acme")
    assert partner is not None and partner.endpoint_auth is not None, (
        "acme keeps its encrypted fetch credentials"
    )
    assert app.vault.decrypt(partner.endpoint_auth) == SECRET  # still usable after rotation


def test_an_admins_change_made_while_a_feed_is_fetched_stands(app: Application, server: str) -> None:
    add_partner(app, "acme", f"{server}/held.json")  # the server answers once the admin has changed it
    [schedule] = app.schedules.all("acme")
    pulls = threading.Thread(target=Scheduler(app.pull_feeds).run_once)
    pulls.start()
    while Partners.hits.get("/held.json", 0) == 0:  # the fetch is under way
        time.sleep(0.01)
    try:
        app.schedules.update(schedule.id, actor="admin", interval_seconds=3600, enabled=False)
    finally:
        Partners.release.set()  # the fetch ends now, after the change, however loaded the machine
    pulls.join()
    with app.uow(read_only=True) as uow:
        stored = uow.schedules.get(schedule.id)
    assert stored is not None
    assert stored.enabled is False and stored.interval_seconds == 3600, stored  # the admin's change
    assert stored.last_run_at is not None and schedule.last_run_at is None  # and the run's own record


def test_after_a_run_the_schedule_keeps_its_cadence_not_the_claims_hold(
    app: Application, server: str
) -> None:
    add_partner(app, "acme", f"{server}/feed.json")  # every 300 s; the claim holds it for 900 s
    [before] = app.schedules.all("acme")
    Scheduler(app.pull_feeds).run_once()
    [after] = app.schedules.all("acme")
    assert after.last_run_at is not None
    assert (after.next_run_at - before.next_run_at) % timedelta(seconds=300) == timedelta(0)
    assert after.last_run_at < after.next_run_at <= after.last_run_at + timedelta(seconds=300)
