"""The background loops as a library (adapters_in/background.py): what the CLI commands and
an embedding service call, configured from the application's settings."""

from __future__ import annotations

import hashlib
import io
import threading

from partner_ingest.adapters_in.background import (
    background_services,
    background_worker,
    run_scheduler,
    run_worker,
    worker_for,
)
from partner_ingest.adapters_in.bootstrap import Application, in_memory
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model import Partner
from partner_ingest.domain.model.jobs import Job
from partner_ingest.domain.use_cases import FeedSubmission

FEED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'


def with_a_queued_job(app: Application) -> str:
    with app.uow() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=app.clock.now()))
        uow.commit()
    job = app.submit_job(
        FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), format="json"),
        body_bytes=len(FEED),
        content_hash=hashlib.sha256(FEED).hexdigest(),
    )
    assert isinstance(job, Job)
    return job.id


def test_run_worker_once_processes_the_queued_job() -> None:
    app, store, _ = in_memory()
    job_id = with_a_queued_job(app)
    assert run_worker(app, threading.Event(), once=True) == 1
    with store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(job_id)
        assert job is not None and str(job.status) == "succeeded"
        assert uow.products.get("acme", "A-1") is not None


def test_run_worker_returns_once_stopped_having_processed_the_queue() -> None:
    app, _, _ = in_memory(settings=Settings(worker_poll_seconds=0.01))
    with_a_queued_job(app)
    stop = threading.Event()
    done: list[int] = []
    loop = threading.Thread(target=lambda: done.append(run_worker(app, stop)))
    loop.start()
    threading.Timer(0.3, stop.set).start()
    loop.join(5)
    assert done == [1]


def test_run_scheduler_once_makes_one_pass() -> None:
    app, _, _ = in_memory()
    assert run_scheduler(app, threading.Event(), once=True) == 1


def test_the_loops_take_their_settings_from_the_application() -> None:
    settings = Settings(worker_poll_seconds=0.25, shutdown_grace_seconds=7.0, in_process_scheduler=False)
    app, _, _ = in_memory(settings=settings)
    assert worker_for(app, name="w1").name == "w1"
    assert worker_for(app)._poll == 0.25
    assert background_worker(app)._grace == 7.0
    assert [type(s).__name__ for s in background_services(app)] == ["BackgroundWorker"]
