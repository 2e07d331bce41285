"""Use cases of completion webhooks: configure a partner's webhook, queue its events with the
work that caused them, and deliver them signed (ADR 0034).

- An event is queued in the unit of work of what it reports: `QueueWebhookEvents` is an
  `IngestStep` (an import's outcome commits with the import, or neither does) and the job
  processor calls `job_dead` in the transaction that makes a job dead.
- `DeliverWebhooks` claims one due delivery under a lease, signs it with every secret in
  force (Standard Webhooks), POSTs it through the `WebhookSender` (the pull fetcher's address
  checks and pinned connections), and records the outcome with the webhook's run of
  failures; a webhook whose run reaches `disable_after` is disabled and audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from partner_ingest.domain.model import jsontext
from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.domain.model.audit import AuditAction, AuditDetail, AuditEntry, Outcome
from partner_ingest.domain.model.endpoints import endpoint_refusal
from partner_ingest.domain.model.errors import ConflictError, InvalidError, NotFoundError
from partner_ingest.domain.model.jobs import Job
from partner_ingest.domain.model.webhooks import (
    MAX_DELIVERY_PAGE,
    Delivery,
    DeliveryBackoff,
    Webhook,
    WebhookEvent,
    new_secret,
    signature_header,
)
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.credentials import CredentialVault
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from partner_ingest.ports.webhooks import WebhookSender

from .feed_terms import Ingested
from .paging import check_limit

__all__ = [
    "MAX_DELIVERY_PAGE",
    "DeliverWebhooks",
    "ManageWebhooks",
    "QueueWebhookEvents",
    "WebhookDisabledError",
    "WebhookRequestError",
    "WebhookRules",
    "WebhookSetup",
]

MAX_URL: Final = 2048
_URL: Final = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?")


class WebhookRequestError(InvalidError):
    """A webhook URL that cannot be used: `problems` maps the field to why."""

    code = "invalid_webhook"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {why}" for field, why in problems.items()))
        self.problems = dict(problems)

    @property
    def details(self) -> dict[str, Any]:
        return {"problems": self.problems}


class WebhookDisabledError(ConflictError):
    """The webhook is disabled (too many failed deliveries): set it again to enable it."""

    code = "webhook_disabled"

    def __init__(self, partner_id: str, reason: str | None) -> None:
        super().__init__(
            f"the webhook of partner {partner_id!r} is disabled ({reason or 'by an admin'}); "
            "PUT it again to enable it"
        )


@attrs.frozen
class WebhookRules:
    """How deliveries are retried and when a webhook is disabled; settings build it."""

    disable_after: int = attrs.field(default=25, validator=attrs.validators.ge(1))
    """Failed attempts in a row (over every delivery of the partner) that disable its webhook."""
    overlap: timedelta = timedelta(hours=24)
    """How long a rotated-out secret keeps signing beside the new one."""
    backoff: DeliveryBackoff = attrs.field(factory=DeliveryBackoff)
    lease: timedelta = timedelta(seconds=60)
    """How long one attempt holds its delivery (more than the sender's timeout)."""


@attrs.frozen
class WebhookSetup:
    """A webhook as configured, with its signing secret in clear when it was just made (shown once)."""

    webhook: Webhook
    secret: str | None = attrs.field(default=None, repr=False)


def url_problem(url: str, addresses: AddressPolicy) -> str | None:
    """Why a webhook URL is refused at configuration (the sender checks every address again)."""
    if "@" in url.partition("://")[2].split("/", 1)[0]:
        return "no credentials in the URL: the signature authenticates the platform"
    if len(url) > MAX_URL or not _URL.fullmatch(url):
        return f"an http or https URL of at most {MAX_URL} characters"
    refused = endpoint_refusal(url, addresses)
    if refused is not None:
        return "refused: " + refused.replace("feeds are pulled from", "webhooks are sent to")
    return None


def event_body(event: WebhookEvent, at: datetime, data: Mapping[str, Any]) -> str:
    """The JSON an event is delivered as: `{"type", "timestamp", "data"}` (Standard Webhooks)."""
    return jsontext.dumps({"type": str(event), "timestamp": at, "data": dict(data)})


class QueueWebhookEvents:
    """Queues a partner's events in the unit of work of what they report (only for an enabled webhook)."""

    def __init__(self, clock: Clock, ids: IdSource) -> None:
        self._clock = clock
        self._ids = ids

    def __call__(self, uow: UnitOfWork, ingested: Ingested) -> None:
        """The `IngestStep`: an import ended. A repeat answered at once is not an event (nothing
        happened); a job answered by an earlier report is (the job ended)."""
        submission, report = ingested.submission, ingested.report
        if report.dry_run or (ingested.repeat and submission.job_id is None):
            return
        data: dict[str, Any] = {
            "feed_id": report.feed_id,
            "job_id": submission.job_id,
            "status": str(report.status),
            "format": report.format,
            "version": report.version,
            "counts": report.counts.to_json(),
            "repeat": ingested.repeat,
        }
        if report.feed_error is not None:
            data["feed_error"] = str(report.feed_error.code)
        self.queue(uow, submission.partner_id, WebhookEvent.IMPORT_COMPLETED, data)

    def job_dead(self, uow: UnitOfWork, job: Job, error: str) -> None:
        """A job failed for good: nothing of it was applied."""
        data = {"job_id": job.id, "status": "dead", "attempts": job.attempts, "error": error[:500]}
        self.queue(uow, job.partner_id, WebhookEvent.JOB_DEAD, data)

    def queue(
        self, uow: UnitOfWork, partner_id: str, event: WebhookEvent, data: Mapping[str, Any]
    ) -> Delivery | None:
        """Queue one event for the partner's webhook; None when it has no enabled one."""
        hook = uow.webhooks.get(partner_id)
        if hook is None or not hook.enabled:
            return None
        now = self._clock.now()
        delivery = Delivery(
            id=self._ids.new_id("msg"),
            partner_id=partner_id,
            event=event,
            payload=event_body(event, now, data),
            created_at=now,
            available_at=now,
        )
        uow.webhooks.add_delivery(delivery)
        return delivery


class ManageWebhooks:
    """A partner's webhook, set by the partner or an admin; every change audited."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        vault: CredentialVault,
        clock: Clock,
        queue: QueueWebhookEvents,
        *,
        addresses: AddressPolicy,
        rules: WebhookRules,
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self._uow = uow
        self._vault = vault
        self._clock = clock
        self._queue = queue
        self._addresses = addresses
        self._rules = rules
        self._random = random_bytes

    def set(self, partner_id: str, url: str, *, actor: str, client: str | None = None) -> WebhookSetup:
        """Set the URL (enabling the webhook again if it was disabled). The first time, a signing
        secret is made and answered: it is never shown again."""
        problem = url_problem(url, self._addresses)
        if problem is not None:
            raise WebhookRequestError({"url": problem})
        now = self._clock.now()
        with self._uow() as uow:
            self._partner(uow, partner_id)
            hook = uow.webhooks.get(partner_id)
            secret: str | None = None
            if hook is None:
                secret = new_secret(self._random(32))
                hook = Webhook(partner_id, url, self._vault.encrypt(secret), created_at=now, updated_at=now)
                change = "created"
            else:
                hook = attrs.evolve(hook.enabled_again(now), url=url)
                change = "updated"
            uow.webhooks.put(hook)
            uow.audit.append(self._audit(partner_id, actor, client, change=change, endpoint=_origin(url)))
            uow.commit()
        return WebhookSetup(hook, secret)

    def rotate(self, partner_id: str, *, actor: str, client: str | None = None) -> WebhookSetup:
        """A new signing secret (answered once); the old one keeps signing for the overlap."""
        secret = new_secret(self._random(32))
        now = self._clock.now()
        with self._uow() as uow:
            hook = self._hook(uow, partner_id)
            hook = hook.rotated(self._vault.encrypt(secret), now, self._rules.overlap)
            uow.webhooks.put(hook)
            uow.audit.append(
                self._audit(
                    partner_id,
                    actor,
                    client,
                    change="secret_rotated",
                    overlap_until=now + self._rules.overlap,
                )
            )
            uow.commit()
        return WebhookSetup(hook, secret)

    def enable(self, partner_id: str, *, actor: str, client: str | None = None) -> Webhook:
        """Enable a disabled webhook again at the URL it has (checked again, as when set), its
        failure run forgotten; audited. An enabled one is answered as it is, nothing written."""
        now = self._clock.now()
        with self._uow() as uow:
            hook = self._hook(uow, partner_id)
            if hook.enabled:
                return hook
            problem = url_problem(hook.url, self._addresses)
            if problem is not None:
                raise WebhookRequestError({"url": problem})
            hook = hook.enabled_again(now)
            uow.webhooks.put(hook)
            uow.audit.append(
                self._audit(partner_id, actor, client, change="enabled", endpoint=_origin(hook.url))
            )
            uow.commit()
        return hook

    def remove(self, partner_id: str, *, actor: str, client: str | None = None) -> None:
        """No more events (queued ones fail as they come due); NotFoundError when there is none."""
        with self._uow() as uow:
            self._partner(uow, partner_id)
            if not uow.webhooks.remove(partner_id):
                raise NotFoundError("webhook", partner_id)
            uow.audit.append(self._audit(partner_id, actor, client, change="removed"))
            uow.commit()

    def get(self, partner_id: str) -> Webhook:
        """The partner's webhook; NotFoundError when it has none."""
        with self._uow(read_only=True) as uow:
            return self._hook(uow, partner_id)

    def all(self) -> list[Webhook]:
        """Every webhook, disabled ones included (admins)."""
        with self._uow(read_only=True) as uow:
            return uow.webhooks.all()

    def deliveries(self, partner_id: str | None, *, limit: int = 50) -> list[Delivery]:
        """The delivery log, newest first: one partner's, or everyone's (admins)."""
        limit = check_limit(limit, MAX_DELIVERY_PAGE)
        with self._uow(read_only=True) as uow:
            if partner_id is not None:
                self._partner(uow, partner_id)
            return uow.webhooks.deliveries(partner_id, limit=limit)

    def send_test(self, partner_id: str, *, actor: str) -> Delivery:
        """Queue a `webhook.test` event; WebhookDisabledError when the webhook is disabled."""
        with self._uow() as uow:
            hook = self._hook(uow, partner_id)
            if not hook.enabled:
                raise WebhookDisabledError(partner_id, hook.disabled_reason)
            delivery = self._queue.queue(uow, partner_id, WebhookEvent.TEST, {"requested_by": actor})
            assert delivery is not None
            uow.commit()
        return delivery

    def _partner(self, uow: UnitOfWork, partner_id: str) -> None:
        if uow.partners.get(partner_id) is None:
            raise NotFoundError("partner", partner_id)

    def _hook(self, uow: UnitOfWork, partner_id: str) -> Webhook:
        self._partner(uow, partner_id)
        hook = uow.webhooks.get(partner_id)
        if hook is None:
            raise NotFoundError("webhook", partner_id)
        return hook

    def _audit(
        self, partner_id: str, actor: str, client: str | None, **details: AuditDetail | datetime
    ) -> AuditEntry:
        shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in details.items()}
        return AuditEntry(
            at=self._clock.now(),
            action=AuditAction.WEBHOOK_CHANGED,
            outcome=Outcome.SUCCESS,
            actor=actor,
            partner_id=partner_id,
            client=client,
            details=shown,
        )


class DeliverWebhooks:
    """Deliver the next due event: claim, sign, POST, record. One call, one attempt."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sender: WebhookSender,
        vault: CredentialVault,
        clock: Clock,
        ids: IdSource,
        *,
        rules: WebhookRules,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._vault = vault
        self._clock = clock
        self._ids = ids
        self._rules = rules

    def __call__(self) -> Delivery | None:
        """The delivery after this attempt, or None when nothing is due."""
        token = self._ids.new_id("lease")
        now = self._clock.now()
        with self._uow() as uow:
            claimed = uow.webhooks.claim_delivery(now, self._rules.lease, token)
            hook = None if claimed is None else uow.webhooks.get(claimed.partner_id)
            uow.commit()
        if claimed is None:
            return None
        if hook is None or not hook.enabled:
            why = "the webhook was removed" if hook is None else "the webhook is disabled"
            return self._finish(claimed, token, None, delivered=False, status=None, detail=why, final=True)
        timestamp = int(now.timestamp())
        body = claimed.payload.encode()
        secrets = [self._vault.decrypt(secret) for secret in hook.secrets_at(now)]
        headers = {
            "Content-Type": "application/json",
            "webhook-id": claimed.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, claimed.id, timestamp, body),
        }
        sent = self._sender.send(hook.url, headers, body)
        return self._finish(
            claimed,
            token,
            hook.url,
            delivered=sent.delivered,
            status=sent.status,
            detail=sent.detail,
            final=False,
        )

    def _finish(
        self,
        claimed: Delivery,
        token: str,
        url: str | None,
        *,
        delivered: bool,
        status: int | None,
        detail: str,
        final: bool,
    ) -> Delivery:
        now = self._clock.now()
        with self._uow() as uow:
            hook = uow.webhooks.get(claimed.partner_id)
            counted = None
            if hook is not None and url is not None and hook.url == url:
                counted = hook.after_attempt(delivered, now, self._rules.disable_after)
            if delivered:
                after = claimed.succeed(token, now, status or 200)
            else:
                # The attempt that disables the webhook gives its delivery up too.
                give_up = final or (counted is not None and not counted.enabled)
                retry_at = (
                    None
                    if give_up
                    else self._rules.backoff.retry_at(claimed.created_at, claimed.attempts, now)
                )
                after = claimed.fail(token, retry_at, status, detail or "failed")
            assert after is not None  # claimed under this token just now
            if not uow.webhooks.finish_delivery(token, after):
                uow.rollback()  # the lease lapsed and another worker took it: its record stands
                return claimed
            if hook is not None and counted is not None:
                uow.webhooks.put(counted)
                if hook.enabled and not counted.enabled:
                    uow.audit.append(
                        AuditEntry(
                            at=now,
                            action=AuditAction.WEBHOOK_DISABLED,
                            outcome=Outcome.FAILED,
                            actor="system",
                            partner_id=claimed.partner_id,
                            details={"failures": counted.failures, "last_error": (detail or "")[:200]},
                        )
                    )
            uow.commit()
        return after


def _origin(url: str) -> str:
    """Scheme and host of a URL, for the audit trail (a path or query may carry a token)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{re.split(r'[/?#]', rest, maxsplit=1)[0]}"
