"""What the job delivery adds to the use cases, on the in-memory store (T1): paging, an
interrupted job released untouched, a retry conflict, schedule checks, fetch health, and
which background services `serve` runs."""

from __future__ import annotations

import hashlib
import io

import attrs
import pytest
from cryptography.fernet import Fernet

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import background_services
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_in.worker import Worker, process_next_job_once
from partner_ingest.adapters_out.fetcher import CircuitBreakerFetcher
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore
from partner_ingest.domain.model import AuditAction, AuditEntry, JobStatus, Outcome, Partner
from partner_ingest.domain.model.circuits import BreakerPolicy, CircuitState
from partner_ingest.domain.model.cron import InvalidScheduleError
from partner_ingest.domain.model.errors import ConflictError
from partner_ingest.domain.model.jobs import Job
from partner_ingest.domain.use_cases import FeedSubmission, JobNotDeadError, JobOutcome
from partner_ingest.domain.use_cases.fetch_health import ReadFetchHealth
from partner_ingest.domain.use_cases.jobs import MAX_JOB_OFFSET, MAX_JOB_SCAN
from partner_ingest.domain.use_cases.paging import PageRequestError
from partner_ingest.ports.fetcher import FetchOutcome, FetchRequest, FetchResult

MemoryApp = tuple[Application, InMemoryStore, FakeClock]


def lines(items: int) -> bytes:
    return b"".join(
        f'{{"sku": "L-{n:06d}", "name": "Item", "price": 1, "currency": "EUR", "quantity": 1}}\n'.encode()
        for n in range(items)
    )


def submit(app: Application, body: bytes, partner_id: str = "acme") -> Job:
    submission = FeedSubmission(partner_id=partner_id, body=io.BytesIO(body), format="jsonl", version=1)
    job = app.submit_job(submission, body_bytes=len(body), content_hash=hashlib.sha256(body).hexdigest())
    assert isinstance(job, Job)  # no Idempotency-Key: always a new job
    return job


def test_job_pages_cover_every_job_once_most_recent_first(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    submitted = [submit(app, lines(n + 1)).id for n in range(7)]

    pages = [app.jobs.page(partner_id="acme", limit=3)]
    while (following := pages[-1].next_offset) is not None:
        pages.append(app.jobs.page(partner_id="acme", limit=3, offset=following))

    assert [len(p.jobs) for p in pages] == [3, 3, 1]
    assert [job.id for page in pages for job in page.jobs] == list(reversed(submitted))
    assert app.jobs.page(partner_id="lenient-co").jobs == ()
    assert app.jobs.page(status=JobStatus.DEAD).next_offset is None


@pytest.mark.parametrize(
    ("limit", "offset"), [(0, 0), (201, 0), (50, -1), (50, MAX_JOB_SCAN), (1, MAX_JOB_OFFSET + 1)]
)
def test_a_job_page_out_of_bounds_is_refused_not_clamped(
    memory_app: MemoryApp, limit: int, offset: int
) -> None:
    app, _, _ = memory_app
    with pytest.raises(PageRequestError):
        app.jobs.page(limit=limit, offset=offset)


def test_an_interrupted_job_is_released_untouched_and_processed_later_exactly_once(
    memory_app: MemoryApp,
) -> None:
    app, store, _ = memory_app
    job = submit(app, lines(5_000))
    reads = iter(range(10**6))

    claimed = app.process_next_job.claim()
    assert claimed is not None
    # Interrupted at the second read of the body: well inside the feed.
    result = app.process_next_job.process(*claimed, interrupted=lambda: next(reads) >= 1)

    assert result.outcome is JobOutcome.RELEASED
    with store.unit_of_work() as uow:
        released = uow.jobs.get(job.id)
        assert uow.products.count("acme") == 0 and uow.imports.recent("acme") == []
    assert released is not None and released.status is JobStatus.QUEUED
    assert released.attempts == 0 and released.lease_token is None and released.last_error is None

    again = process_next_job_once(app)
    assert again is not None and again.outcome is JobOutcome.SUCCEEDED
    with store.unit_of_work() as uow:
        assert uow.products.count("acme") == 5_000 and len(uow.imports.recent("acme")) == 1


def test_an_interrupted_worker_releases_its_job_instead_of_finishing_it(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    job = submit(app, lines(10))
    worker = Worker(app.process_next_job)

    worker.interrupt()
    result = worker.run_once()

    assert result is not None and result.outcome is JobOutcome.RELEASED
    with store.unit_of_work() as uow:
        found = uow.jobs.get(job.id)
    assert found is not None and found.status is JobStatus.QUEUED


def test_retrying_a_job_that_is_not_dead_is_a_conflict_naming_its_status(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    job = submit(app, lines(1))

    with pytest.raises(JobNotDeadError) as raised:
        app.jobs.retry(job.id, actor="admin:k1", client="203.0.113.9")

    assert isinstance(raised.value, ConflictError)
    assert raised.value.status is JobStatus.QUEUED and raised.value.job_id == job.id


def test_a_schedule_for_a_format_that_does_not_exist_is_an_invalid_schedule(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    with pytest.raises(InvalidScheduleError, match="yaml"):
        app.schedules.create("acme", actor="admin:k1", cron="0 3 * * *", format="yaml")
    with pytest.raises(InvalidScheduleError, match="version"):
        app.schedules.create("acme", actor="admin:k1", cron="0 3 * * *", format="json", version=99)
    assert app.schedules.all("acme") == []


class ScriptedFetcher:
    """A partner endpoint that answers whatever outcome the test scripts for its URL."""

    def __init__(self, outcomes: dict[str, FetchOutcome]) -> None:
        self.outcomes = outcomes

    def fetch(self, request: FetchRequest) -> FetchResult:
        return FetchResult(self.outcomes[request.url], host="example.test", status=503)


DOWN, UP = "https://down.example:8443/feed.json", "https://up.example/feed.json"


@pytest.fixture
def health(memory_app: MemoryApp) -> tuple[ReadFetchHealth, CircuitBreakerFetcher, InMemoryStore]:
    _, store, clock = memory_app
    with store.unit_of_work() as uow:
        for pid, url in (("down-1", DOWN), ("down-2", DOWN.replace("feed", "other")), ("up", UP)):
            uow.partners.add(Partner(id=pid, name=pid, created_at=clock.now(), endpoint=url))
        uow.commit()
    breaker = CircuitBreakerFetcher(
        ScriptedFetcher({DOWN: FetchOutcome.TIMEOUT, UP: FetchOutcome.FETCHED}),
        store.unit_of_work,
        clock,
        BreakerPolicy(failure_threshold=2),
    )
    return ReadFetchHealth(store.unit_of_work, store.audit_log, clock), breaker, store


def test_fetch_health_shows_every_partners_feed_circuit_even_one_never_fetched(
    health: tuple[ReadFetchHealth, CircuitBreakerFetcher, InMemoryStore], memory_app: MemoryApp
) -> None:
    reader, breaker, _ = health
    _, _, clock = memory_app
    for _ in range(2):
        breaker.fetch(FetchRequest(DOWN, partner_id="down-1"))
    breaker.fetch(FetchRequest(DOWN))  # on no partner's behalf: a circuit of its own

    circuits = {(entry.partner_id, entry.endpoint): entry for entry in reader.circuits()}

    down = circuits["down-1", "https://down.example:8443"]
    assert down.state is CircuitState.OPEN and down.failures == 2 and down.opened_at == clock.now()
    assert down.next_probe_at == clock.now() + BreakerPolicy().reset_after
    # The same host, another feed (and another partner): its own circuit, closed.
    other = circuits["down-2", "https://down.example:8443"]
    assert other.state is CircuitState.CLOSED and other.failures == 0 and other.next_probe_at is None
    assert circuits["up", "https://up.example:443"].state is CircuitState.CLOSED  # never fetched
    assert set(circuits) == {
        ("down-1", "https://down.example:8443"),
        ("down-2", "https://down.example:8443"),
        ("up", "https://up.example:443"),
        (None, "https://down.example:8443"),
    }  # acme and lenient-co have no endpoint
    assert circuits[None, "https://down.example:8443"].failures == 1
    assert reader.circuit_counts() == {
        CircuitState.CLOSED: 3,
        CircuitState.OPEN: 1,
        CircuitState.HALF_OPEN: 0,
    }
    clock.advance(BreakerPolicy().reset_after.total_seconds())
    assert reader.circuit_counts()[CircuitState.HALF_OPEN] == 1  # open long enough: the probe is due


def test_fetch_health_leaves_out_the_circuit_of_a_url_its_partner_no_longer_uses(
    health: tuple[ReadFetchHealth, CircuitBreakerFetcher, InMemoryStore],
) -> None:
    reader, breaker, store = health
    for _ in range(2):
        breaker.fetch(FetchRequest(DOWN, partner_id="down-1"))
    with store.unit_of_work() as uow:
        partner = uow.partners.get("down-1")
        assert partner is not None
        uow.partners.update(attrs.evolve(partner, endpoint="https://mirror.example/feed.json"))
        uow.commit()

    [entry] = [e for e in reader.circuits() if e.partner_id == "down-1"]

    assert (entry.endpoint, entry.state) == ("https://mirror.example:443", CircuitState.CLOSED)
    assert reader.circuit_counts()[CircuitState.OPEN] == 0


def test_fetch_health_counts_the_anomalies_of_the_last_hour_only(
    health: tuple[ReadFetchHealth, CircuitBreakerFetcher, InMemoryStore], memory_app: MemoryApp
) -> None:
    reader, _, store = health
    _, _, clock = memory_app
    old = AuditEntry(clock.now(), AuditAction.FETCH_ANOMALY, Outcome.FAILED, "system", partner_id="up")
    store.audit_log.append(old)
    clock.advance(hours=2)
    store.audit_log.append(AuditEntry(clock.now(), AuditAction.FETCH_ANOMALY, Outcome.FAILED, "system"))
    store.audit_log.append(AuditEntry(clock.now(), AuditAction.FETCH, Outcome.SUCCESS, "system"))

    assert reader.recent_anomalies() == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ["BackgroundWorker", "BackgroundScheduler"]),
        ({"PARTNER_INGEST_IN_PROCESS_SCHEDULER": "false"}, ["BackgroundWorker"]),
        ({"PARTNER_INGEST_IN_PROCESS_WORKER": "off"}, ["BackgroundScheduler"]),
    ],
)
def test_serve_runs_the_worker_and_scheduler_in_process_on_sqlite_unless_switched_off(
    memory_app: MemoryApp, environ: dict[str, str], expected: list[str]
) -> None:
    app, _, _ = memory_app
    settings = Settings.from_env(environ)

    services = background_services(attrs.evolve(app, settings=settings))

    assert [type(s).__name__ for s in services] == expected


def test_postgresql_deployments_run_workers_and_schedulers_as_processes_unless_asked() -> None:
    # PostgreSQL needs the secrets every instance shares (see test_bootstrap in tests/integration/postgres).
    secret, vault = "k" * 32, Fernet.generate_key().decode()
    postgres = Settings(database_url="postgresql://db/catalog", key_hash_secret=secret, vault_keys=vault)
    assert not postgres.runs_worker and not postgres.runs_scheduler
    both = Settings.from_env(
        {
            "PARTNER_INGEST_DATABASE_URL": "postgresql://db/catalog",
            "PARTNER_INGEST_KEY_HASH_SECRET": secret,
            "PARTNER_INGEST_VAULT_KEYS": vault,
            "PARTNER_INGEST_IN_PROCESS_WORKER": "true",
        }
    )
    assert both.runs_worker and not both.runs_scheduler
    assert Settings().runs_worker and Settings().runs_scheduler
