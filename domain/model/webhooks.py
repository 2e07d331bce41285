"""Completion webhooks: a partner's endpoint, its signing secrets, and the deliveries queued for it.

Signatures follow the Standard Webhooks specification: the signed content is
`{webhook-id}.{webhook-timestamp}.{body}`, signed with HMAC-SHA256 under the secret's
bytes (`whsec_<base64>`), sent as `webhook-signature: v1,<base64>`. While a rotated
secret's overlap lasts, both secrets sign and the header carries both signatures,
space separated, so a receiver still holding the old secret keeps verifying.

A delivery is a small state machine like a job's (ADR 0025): `claim` under a lease
token, then `succeed` or `fail` (queued again at a backoff, or failed for good once
the retry window is over). The stores apply exactly these transitions (ADR 0034).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

__all__ = [
    "MAX_DELIVERY_PAGE",
    "SECRET_PREFIX",
    "Delivery",
    "DeliveryBackoff",
    "DeliveryStatus",
    "Webhook",
    "WebhookEvent",
    "new_secret",
    "sign",
    "signature_header",
]

MAX_DELIVERY_PAGE: Final = 200
"""The most deliveries one page lists (the HTTP route's and the CLI's limit)."""

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
_SECRET_BYTES: Final = 32


class WebhookEvent(enum.StrEnum):
    """The `type` of a delivered event. Values are added, never renamed (receivers switch on them)."""

    IMPORT_COMPLETED = "import.completed"
    """A feed was processed (sent now or as a job): accepted, partial or rejected."""
    JOB_DEAD = "job.dead"
    """A job failed its last attempt (or could never be processed): nothing was applied."""
    TEST = "webhook.test"
    """Sent on request, to check the receiver."""


def new_secret(random_bytes: bytes) -> str:
    """A signing secret as the partner sees it (once): `whsec_` and the base64 of the bytes."""
    if len(random_bytes) < 24:
        raise ValueError("a webhook secret needs at least 24 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` under the secret's bytes."""
    # Imported by the first signature: the CLI loads this module for MAX_DELIVERY_PAGE alone,
    # and every command would load OpenSSL with it.
    import hashlib
    import hmac

    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret in force, space separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


@attrs.frozen
class Webhook:
    """A partner's endpoint for completion events. Secrets are vault ciphertexts, never plain."""

    partner_id: str
    url: str
    secret: str = attrs.field(repr=False)
    """The current signing secret, encrypted by the credential vault."""
    created_at: datetime
    updated_at: datetime
    previous_secret: str | None = attrs.field(default=None, repr=False)
    """The secret before the last rotation (encrypted), still signing until `previous_until`."""
    previous_until: datetime | None = None
    enabled: bool = True
    failures: int = 0
    """Consecutive failed delivery attempts (reset by a success)."""
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    def secrets_at(self, now: datetime) -> list[str]:
        """The (encrypted) secrets that sign at `now`: the current one, and the previous one
        while its overlap lasts."""
        found = [self.secret]
        if self.previous_secret is not None and self.previous_until is not None and now < self.previous_until:
            found.append(self.previous_secret)
        return found

    def rotated(self, secret: str, now: datetime, overlap: timedelta) -> Webhook:
        """A new current secret; the old one keeps signing for `overlap`."""
        return attrs.evolve(
            self, secret=secret, previous_secret=self.secret, previous_until=now + overlap, updated_at=now
        )

    def after_attempt(self, delivered: bool, now: datetime, disable_after: int) -> Webhook:
        """Count a delivery attempt; disabled once `disable_after` attempts in a row failed."""
        if delivered:
            return attrs.evolve(self, failures=0)
        failures = self.failures + 1
        if self.enabled and failures >= disable_after:
            return attrs.evolve(
                self,
                failures=failures,
                enabled=False,
                disabled_at=now,
                disabled_reason=f"{failures} delivery attempts in a row failed",
            )
        return attrs.evolve(self, failures=failures)

    def enabled_again(self, now: datetime) -> Webhook:
        """Enabled, its failure run forgotten (the partner or an admin fixed the receiver)."""
        return attrs.evolve(
            self, enabled=True, failures=0, disabled_at=None, disabled_reason=None, updated_at=now
        )


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    """Waiting for its (next) attempt at `available_at`."""
    DELIVERING = "delivering"
    """An attempt is under way (a lease; once it lapses another worker may try)."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Given up: the retry window is over, or the webhook was disabled or removed."""


@attrs.frozen
class DeliveryBackoff:
    """Exponential backoff between attempts (`base`, doubling, at most `cap`), for `window` after
    the event; an attempt that would fall later fails the delivery for good."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(days=1)

    def retry_at(self, created_at: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed ones; None: give up."""
        delay = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        due = now + delay
        return None if due > created_at + self.window else due


@attrs.frozen
class Delivery:
    """One event for one partner's webhook, and how its delivery went."""

    id: str
    partner_id: str
    event: WebhookEvent
    payload: str = attrs.field(repr=False)
    """The JSON body, exactly as it is signed and sent (every attempt sends the same bytes)."""
    created_at: datetime
    available_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    lease_token: str | None = attrs.field(default=None, repr=False)
    lease_until: datetime | None = None
    last_status: int | None = None
    """The receiver's last HTTP status, when it answered."""
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Delivered or failed for good."""
        return self.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)

    def claimable(self, now: datetime) -> bool:
        """Due and pending, or under a lease that lapsed (its worker is gone)."""
        if self.status is DeliveryStatus.PENDING:
            return self.available_at <= now
        return (
            self.status is DeliveryStatus.DELIVERING
            and self.lease_until is not None
            and self.lease_until <= now
        )

    def claim(self, now: datetime, lease_for: timedelta, token: str) -> Delivery | None:
        """Start an attempt under `token`; None when not claimable."""
        if not self.claimable(now):
            return None
        return attrs.evolve(
            self,
            status=DeliveryStatus.DELIVERING,
            attempts=self.attempts + 1,
            lease_token=token,
            lease_until=now + lease_for,
        )

    def held_by(self, token: str) -> bool:
        """Is this attempt still `token`'s?"""
        return self.status is DeliveryStatus.DELIVERING and self.lease_token == token

    def succeed(self, token: str, now: datetime, status: int) -> Delivery | None:
        """The receiver took it; None when the lease is not held."""
        if not self.held_by(token):
            return None
        return attrs.evolve(
            self,
            status=DeliveryStatus.DELIVERED,
            lease_token=None,
            lease_until=None,
            last_status=status,
            last_error=None,
            delivered_at=now,
        )

    def fail(self, token: str, retry_at: datetime | None, status: int | None, error: str) -> Delivery | None:
        """The attempt failed: pending again at `retry_at`, or failed for good when None;
        None when the lease is not held."""
        if not self.held_by(token):
            return None
        return attrs.evolve(
            self,
            status=DeliveryStatus.FAILED if retry_at is None else DeliveryStatus.PENDING,
            available_at=self.available_at if retry_at is None else retry_at,
            lease_token=None,
            lease_until=None,
            last_status=status,
            last_error=error[:500],
        )
