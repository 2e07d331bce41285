"""Completion webhooks on the in-memory store with a fake clock and a recording sender (ADR 0034):
signatures as Standard Webhooks specifies them, events queued in the unit of work of what
they report, backoff for a day, and disabling after a run of failed attempts."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from partner_ingest.adapters_in.bootstrap import Application, wire
from partner_ingest.adapters_in.secrets_file import fresh_secrets
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.adapters_in.worker import Worker, process_next_job_once
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import AuditAction, AuditQuery, Job, Partner
from partner_ingest.domain.model.webhooks import (
    Delivery,
    DeliveryBackoff,
    DeliveryStatus,
    Webhook,
    WebhookEvent,
    new_secret,
    sign,
)
from partner_ingest.domain.use_cases import FeedSubmission
from partner_ingest.domain.use_cases.webhooks import WebhookRequestError
from partner_ingest.ports.webhooks import WebhookSent

FEED = b'{"products": [{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}]}'
BAD = b'{"products": [{"sku": "A-1", "name": "Mug", "price": -1, "currency": "EUR", "quantity": 3}]}'
URL = "https://hooks.example/in"


@attrs.define
class RecordingSender:
    """A `WebhookSender` that answers the scripted statuses (then 200) and keeps every request."""

    statuses: list[int] = attrs.Factory(list)
    sent: list[tuple[str, dict[str, str], bytes]] = attrs.Factory(list)

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookSent:
        self.sent.append((url, dict(headers), body))
        status = self.statuses.pop(0) if self.statuses else 200
        return WebhookSent(200 <= status < 300, status, f"answered {status}")


@attrs.frozen
class Hooked:
    app: Application
    store: InMemoryStore
    clock: FakeClock
    sender: RecordingSender


@pytest.fixture
def hooked() -> Hooked:
    store, clock, sender = InMemoryStore(), FakeClock(), RecordingSender()
    app = wire(
        store.unit_of_work,
        store.audit_log,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(webhook_disable_after_failures=3),
        webhook_sender=sender,
        secrets_=fresh_secrets(),
    )
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now()))
        uow.commit()
    return Hooked(app, store, clock, sender)


def ingest(app: Application, body: bytes = FEED, **fields: object) -> str:
    report = app.ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="json", **fields))  # type: ignore[arg-type]
    return report.feed_id


def deliveries(h: Hooked) -> list[Delivery]:
    with h.store.unit_of_work(read_only=True) as uow:
        return uow.webhooks.deliveries("acme")


def test_signatures_match_the_standard_webhooks_test_vector() -> None:
    # The example of the Standard Webhooks specification (its reference libraries' tests).
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert new_secret(bytes(32)).startswith("whsec_")
    with pytest.raises(ValueError, match="24 random bytes"):
        new_secret(bytes(8))


def test_a_rotated_secret_signs_until_its_overlap_ends() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    hook = Webhook("acme", URL, "new", created_at=t0, updated_at=t0)
    rotated = attrs.evolve(hook, secret="old").rotated("new", t0, timedelta(hours=1))
    assert rotated.secrets_at(t0 + timedelta(minutes=59)) == ["new", "old"]
    assert rotated.secrets_at(t0 + timedelta(hours=1)) == ["new"]


def test_backoff_doubles_up_to_its_cap_and_gives_up_after_a_day() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    backoff = DeliveryBackoff()
    assert backoff.retry_at(t0, 1, t0) == t0 + timedelta(seconds=30)
    assert backoff.retry_at(t0, 3, t0) == t0 + timedelta(minutes=2)
    assert backoff.retry_at(t0, 20, t0) == t0 + timedelta(hours=1)
    assert backoff.retry_at(t0, 20, t0 + timedelta(hours=23, minutes=1)) is None


def test_an_import_queues_one_signed_event_in_its_unit_of_work_and_a_repeat_none(hooked: Hooked) -> None:
    assert ingest(hooked.app)  # no webhook yet: nothing queued
    assert deliveries(hooked) == []
    setup = hooked.app.webhooks.set("acme", URL, actor="acme")
    assert setup.secret is not None
    hooked.clock.advance(1)
    feed_id = ingest(hooked.app, FEED.replace(b"Mug", b"Cup"))
    hooked.clock.advance(1)
    ingest(hooked.app, FEED.replace(b"Mug", b"Cup"))  # same content: answered as a repeat
    ingest(hooked.app, FEED, dry_run=True)
    queued = deliveries(hooked)
    assert [d.event for d in queued] == [WebhookEvent.IMPORT_COMPLETED], [
        json.loads(d.payload)["data"] for d in queued
    ]
    assert [d.event for d in queued] == [WebhookEvent.IMPORT_COMPLETED]
    assert json.loads(queued[0].payload)["data"]["feed_id"] == feed_id

    delivered = hooked.app.deliver_webhooks()
    assert delivered is not None and delivered.status is DeliveryStatus.DELIVERED
    ((url, headers, body),) = hooked.sender.sent
    assert url == URL and body == queued[0].payload.encode()
    assert headers["webhook-id"] == queued[0].id
    assert headers["webhook-signature"] == sign(
        setup.secret, queued[0].id, int(headers["webhook-timestamp"]), body
    )


def test_a_rejected_feed_and_a_dead_job_are_events_too(hooked: Hooked) -> None:
    hooked.app.webhooks.set("acme", URL, actor="acme")
    ingest(hooked.app, BAD)
    body = b"{not json"
    job = hooked.app.submit_job(
        FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="json"),
        body_bytes=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
    )
    assert isinstance(job, Job)
    with hooked.store.unit_of_work() as uow:  # a partner gone since submission: the job dies at once
        partner = uow.partners.get("acme")
        assert partner is not None
        uow.partners.update(attrs.evolve(partner, active=False))
        uow.commit()
    result = process_next_job_once(hooked.app)
    assert result is not None and str(result.outcome) == "dead"
    events = {d.event: json.loads(d.payload)["data"] for d in deliveries(hooked)}
    assert events[WebhookEvent.IMPORT_COMPLETED]["status"] == "rejected"
    assert events[WebhookEvent.JOB_DEAD]["job_id"] == job.id


def test_a_snapshot_held_by_the_mass_delete_guard_is_an_event_with_its_counts(hooked: Hooked) -> None:
    catalog = b",".join(
        b'{"sku": "S-%d", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}' % n
        for n in range(10)
    )
    ingest(hooked.app, b'{"products": [' + catalog + b"]}")
    hooked.app.webhooks.set("acme", URL, actor="acme")
    hooked.clock.advance(1)
    # One product named of ten: the other nine would be retired, far above the guard's share.
    feed_id = ingest(hooked.app, FEED, feed_mode="snapshot")
    (held,) = [json.loads(d.payload)["data"] for d in deliveries(hooked)]
    assert held["status"] == "held" and held["feed_id"] == feed_id
    assert held["counts"]["received"] == 1
    with hooked.store.unit_of_work(read_only=True) as uow:
        assert uow.products.count("acme") == 10, "nothing applied while held"


def test_failed_attempts_back_off_and_a_run_of_them_disables_the_webhook(hooked: Hooked) -> None:
    hooked.app.webhooks.set("acme", URL, actor="acme")
    hooked.sender.statuses.extend([500, 503, 500])
    ingest(hooked.app)
    first = hooked.app.deliver_webhooks()
    assert first is not None and first.status is DeliveryStatus.PENDING and first.last_status == 500
    assert first.available_at == hooked.clock.now() + timedelta(seconds=30)
    assert hooked.app.deliver_webhooks() is None  # not due yet
    hooked.clock.advance(30)
    assert hooked.app.deliver_webhooks() is not None
    hooked.clock.advance(60)
    third = hooked.app.deliver_webhooks()
    assert third is not None and third.status is DeliveryStatus.FAILED  # the disabling attempt gives up
    hook = hooked.app.webhooks.get("acme")
    assert not hook.enabled and hook.failures == 3
    disabled = hooked.store.audit_log.query(AuditQuery(action=AuditAction.WEBHOOK_DISABLED))
    assert [e.partner_id for e in disabled] == ["acme"]
    ingest(hooked.app, FEED.replace(b"Mug", b"Jug"))  # disabled: nothing new is queued
    assert len(deliveries(hooked)) == 1


def test_a_success_resets_the_failure_run(hooked: Hooked) -> None:
    hooked.app.webhooks.set("acme", URL, actor="acme")
    hooked.sender.statuses.extend([500, 500, 200])
    ingest(hooked.app)
    for _ in range(3):
        assert hooked.app.deliver_webhooks() is not None
        hooked.clock.advance(3600)
    assert hooked.app.webhooks.get("acme").failures == 0


def test_urls_that_cannot_be_used_are_refused_when_set(hooked: Hooked) -> None:
    for url in (
        "http://10.0.0.5/hook",
        "https://user:pw@hooks.example/",
        "hooks.example/in",
        "http://[::1]/",
    ):
        with pytest.raises(WebhookRequestError) as refused:
            hooked.app.webhooks.set("acme", url, actor="acme")
        assert "url" in refused.value.problems


def test_the_worker_delivers_between_jobs(hooked: Hooked) -> None:
    hooked.app.webhooks.set("acme", URL, actor="acme")
    ingest(hooked.app)
    worker = Worker(hooked.app.process_next_job, deliver=hooked.app.deliver_webhooks)
    assert worker.deliver_due() == 1
    assert worker.deliver_due() == 0
    assert len(hooked.sender.sent) == 1


def test_rotating_the_vault_keys_re_encrypts_webhook_secrets_and_they_still_sign(hooked: Hooked) -> None:
    setup = hooked.app.webhooks.set("acme", URL, actor="acme")
    assert setup.secret is not None
    before = hooked.app.webhooks.get("acme")
    hooked.app.rotate_credentials()
    after = hooked.app.webhooks.get("acme")
    assert after.secret != before.secret
    assert hooked.app.vault.decrypt(after.secret) == setup.secret
    assert setup.secret not in repr(after)


def test_an_event_is_queued_in_the_ingests_unit_of_work_and_rolls_back_with_it(hooked: Hooked) -> None:
    from partner_ingest.domain.use_cases import IngestFeed
    from partner_ingest.domain.use_cases.feed_terms import Ingested
    from partner_ingest.domain.use_cases.webhooks import QueueWebhookEvents
    from partner_ingest.ports import UnitOfWork

    hooked.app.webhooks.set("acme", URL, actor="acme")

    def fails(uow: UnitOfWork, ingested: Ingested) -> None:
        raise RuntimeError("a later step fails")

    queue = QueueWebhookEvents(hooked.clock, SequentialIds())
    ingest = IngestFeed(
        hooked.store.unit_of_work, hooked.app.formats, hooked.clock, SequentialIds(), steps=[queue, fails]
    )
    with pytest.raises(RuntimeError):
        ingest(FeedSubmission(partner_id="acme", body=io.BytesIO(FEED), format="json"))
    assert deliveries(hooked) == []
    with hooked.store.unit_of_work(read_only=True) as uow:
        assert uow.imports.recent("acme") == []  # nothing of the feed either
