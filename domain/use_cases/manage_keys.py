"""Use case: issue, list, revoke and rotate API keys (ADR 0004, ADR 0006).

A key's plaintext exists once, in the `CreatedKey` returned by `create`, `rotate`
or `ensure_admin_key`; the store only ever sees its keyed hash, and listings show
the prefix and public id. Every change is audited in the same unit of work as the
change itself, so the trail and the keys can never disagree.

At least one admin key stays in service: revoking the last one would lock every
admin out of the admin API, so it is refused (`LastAdminKeyError`) and the refusal
audited. Rotation needs no such check: its replacement is in service before the old
key starts retiring.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from partner_ingest.domain.model.api_keys import (
    ApiKey,
    KeyRole,
    masked_key,
    new_api_key,
    validate_server_secret,
)
from partner_ingest.domain.model.audit import AuditAction, AuditDetail, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, InvalidError, NotFoundError
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_OVERLAP",
    "CreatedKey",
    "KeyRequestError",
    "KeyStatus",
    "KeySummary",
    "LastAdminKeyError",
    "ManageKeys",
]

MAX_LABEL_LENGTH = 200
MAX_OVERLAP = timedelta(days=365)
"""Longest a rotated key keeps working beside its replacement: a longer overlap is no rotation."""


class KeyRequestError(InvalidError):
    """A key operation that cannot be done as asked (wrong role for a partner, a past expiry,
    rotating a key that no longer works)."""

    code = "invalid_key_request"


class LastAdminKeyError(ConflictError):
    """Revoking this key would leave no admin key in service: nobody could use the admin API."""

    code = "last_admin_key"

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"key {key_id!r} is the last admin key in service: revoking it would lock every admin out;"
            " create another admin key first"
        )
        self.key_id = key_id


class KeyStatus(enum.StrEnum):
    """Where a key stands at the moment it is listed."""

    ACTIVE = "active"
    RETIRING = "retiring"
    """Rotated out: still works until its `revoked_at`, then stops."""
    EXPIRED = "expired"
    REVOKED = "revoked"


@attrs.frozen
class KeySummary:
    """What a listing shows of a key: never its hash, never a character of its secret."""

    id: str
    role: KeyRole
    partner_id: str | None
    masked: str
    """`pcik_<id>_****`: recognizable, useless to anyone who reads it."""
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaces: str | None
    status: KeyStatus

    @classmethod
    def of(cls, key: ApiKey, now: datetime) -> KeySummary:
        """The summary of a stored key, with its status at `now`."""
        if key.revoked_at is not None and key.revoked_at <= now:
            status = KeyStatus.REVOKED
        elif key.expires_at is not None and key.expires_at <= now:
            status = KeyStatus.EXPIRED
        elif key.revoked_at is not None:
            status = KeyStatus.RETIRING
        else:
            status = KeyStatus.ACTIVE
        return cls(
            id=key.id,
            role=key.role,
            partner_id=key.partner_id,
            masked=masked_key(key.role, key.id),
            label=key.label,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            replaces=key.replaces,
            status=status,
        )


@attrs.frozen
class CreatedKey:
    """A new key: `plaintext` is shown to its owner once and exists nowhere else."""

    plaintext: str = attrs.field(repr=False)
    key: KeySummary


class ManageKeys:
    """Create, list, revoke and rotate keys. `actor` is the audit trail's name for whoever
    asks: `Principal.actor` for an admin request, `system` for the CLI or first start."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        server_secret: bytes,
        random_bytes: Callable[[int], bytes],
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._server_secret = validate_server_secret(server_secret)
        self._random_bytes = random_bytes
        self._on_change = on_change
        """Called once a revocation or rotation is committed (the guard's verified keys forget)."""

    def create(
        self,
        role: KeyRole,
        partner_id: str | None = None,
        *,
        actor: str,
        expires_at: datetime | None = None,
        label: str = "",
        client: str | None = None,
    ) -> CreatedKey:
        """Issue a key: a PARTNER key for an existing partner, or an ADMIN key (no partner)."""
        now = self._clock.now()
        _check_request(role, partner_id, expires_at, label, now)
        with self._uow() as uow:
            if partner_id is not None and uow.partners.get(partner_id) is None:
                raise NotFoundError("partner", partner_id)
            created = self._issue(uow, role, partner_id, now, expires_at=expires_at, label=label)
            uow.audit.append(self._entry(AuditAction.KEY_CREATED, actor, client, created.key, {}))
            uow.commit()
        return created

    def list_keys(self, partner_id: str | None) -> list[KeySummary]:
        """A partner's keys, or the admin keys when `partner_id` is None; newest first.
        NotFoundError for a partner that does not exist (an empty list would say it has no keys)."""
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            if partner_id is not None and uow.partners.get(partner_id) is None:
                raise NotFoundError("partner", partner_id)
            return [KeySummary.of(key, now) for key in uow.api_keys.for_partner(partner_id)]

    def get(self, key_id: str) -> KeySummary:
        """One key's summary; NotFoundError when unknown."""
        with self._uow(read_only=True) as uow:
            key = uow.api_keys.get(key_id)
        if key is None:
            raise NotFoundError("key", key_id)
        return KeySummary.of(key, self._clock.now())

    def revoke(self, key_id: str, *, actor: str, client: str | None = None) -> KeySummary:
        """Stop a key now (an earlier revocation stands). Idempotent; audited every time.
        LastAdminKeyError (audited too) when it is the last admin key in service."""
        now = self._clock.now()
        with self._uow() as uow:
            found = uow.api_keys.get(key_id)
            if found is None:
                raise NotFoundError("key", key_id)
            if found.role is KeyRole.ADMIN:
                in_service = [k.id for k in uow.api_keys.active_admin_keys(now)]
                if in_service == [key_id]:
                    refused = KeySummary.of(found, now)
                    details: dict[str, AuditDetail] = {"reason": LastAdminKeyError.code}
                    uow.audit.append(
                        self._entry(AuditAction.KEY_REVOKED, actor, client, refused, details, Outcome.DENIED)
                    )
                    uow.commit()
                    raise LastAdminKeyError(key_id)
            if not uow.api_keys.revoke(key_id, now):  # pragma: no cover - get() just found it
                raise NotFoundError("key", key_id)
            key = uow.api_keys.get(key_id)
            if key is None:  # pragma: no cover - revoke() just found it
                raise NotFoundError("key", key_id)
            summary = KeySummary.of(key, now)
            uow.audit.append(self._entry(AuditAction.KEY_REVOKED, actor, client, summary, {}))
            uow.commit()
        self._changed()
        return summary

    def rotate(
        self,
        key_id: str,
        *,
        overlap: timedelta,
        actor: str,
        expires_at: datetime | None = None,
        client: str | None = None,
    ) -> CreatedKey:
        """Issue a replacement for a working key; the old one keeps working for `overlap`, so
        the partner can deploy the new one without a gap, then stops.

        The new key has the old one's role, partner and label; its expiry is `expires_at`,
        else the old key's lifetime counted from now, else none.
        """
        if overlap < timedelta(0):
            raise KeyRequestError("the overlap cannot be negative")
        if overlap > MAX_OVERLAP:
            raise KeyRequestError(
                f"the overlap is at most {int(MAX_OVERLAP.total_seconds())} seconds ({MAX_OVERLAP.days} days)"
            )
        now = self._clock.now()
        with self._uow() as uow:
            old = uow.api_keys.get(key_id)
            if old is None:
                raise NotFoundError("key", key_id)
            if not old.usable_at(now):
                raise KeyRequestError(f"key {key_id!r} is revoked or expired: create a new key instead")
            if old.revoked_at is not None:
                raise KeyRequestError(f"key {key_id!r} is already being rotated out: rotate its replacement")
            if expires_at is None and old.expires_at is not None:
                expires_at = now + (old.expires_at - old.created_at)
            _check_request(old.role, old.partner_id, expires_at, old.label, now)
            retires_at = now + overlap
            # Retiring is a revocation dated in the future: `ApiKey.usable_at` then ends the
            # old key at exactly that moment, and an explicit revoke later can only bring
            # it forward (an earlier revocation stands).
            uow.api_keys.revoke(old.id, retires_at)
            created = self._issue(
                uow, old.role, old.partner_id, now, expires_at=expires_at, label=old.label, replaces=old.id
            )
            details: dict[str, AuditDetail] = {
                "replaces": old.id,
                "old_key_retires_at": retires_at.isoformat(),
            }
            uow.audit.append(self._entry(AuditAction.KEY_ROTATED, actor, client, created.key, details))
            uow.commit()
        self._changed()
        return created

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def ensure_admin_key(self, *, label: str = "first admin key") -> CreatedKey | None:
        """On first start (no key at all), create an admin key and return it, to be printed
        once; otherwise None. Two instances starting at once on an empty database may both
        create one; both keys are valid and both are audited."""
        now = self._clock.now()
        with self._uow() as uow:
            if uow.api_keys.count() > 0:
                return None
            created = self._issue(uow, KeyRole.ADMIN, None, now, label=label)
            entry = self._entry(AuditAction.KEY_CREATED, "system", None, created.key, {"first_start": True})
            uow.audit.append(entry)
            uow.commit()
        return created

    def _issue(
        self,
        uow: UnitOfWork,
        role: KeyRole,
        partner_id: str | None,
        now: datetime,
        *,
        expires_at: datetime | None = None,
        label: str = "",
        replaces: str | None = None,
    ) -> CreatedKey:
        issued = new_api_key(role, self._random_bytes)
        record = issued.record(
            self._server_secret,
            partner_id=partner_id,
            created_at=now,
            expires_at=expires_at,
            label=label,
            replaces=replaces,
        )
        uow.api_keys.add(record)
        return CreatedKey(plaintext=issued.plaintext, key=KeySummary.of(record, now))

    def _entry(
        self,
        action: AuditAction,
        actor: str,
        client: str | None,
        key: KeySummary,
        extra: dict[str, AuditDetail],
        outcome: Outcome = Outcome.SUCCESS,
    ) -> AuditEntry:
        details: dict[str, AuditDetail] = {
            "key_id": key.id,
            "role": str(key.role),
            "label": key.label,
            "expires_at": key.expires_at.isoformat() if key.expires_at is not None else None,
            **extra,
        }
        return AuditEntry(
            at=self._clock.now(),
            action=action,
            outcome=outcome,
            actor=actor,
            partner_id=key.partner_id,
            client=client,
            details=details,
        )


def _check_request(
    role: KeyRole, partner_id: str | None, expires_at: datetime | None, label: str, now: datetime
) -> None:
    if role is KeyRole.PARTNER and partner_id is None:
        raise KeyRequestError("a partner key needs a partner")
    if role is KeyRole.ADMIN and partner_id is not None:
        raise KeyRequestError("an admin key belongs to no partner")
    if expires_at is not None and expires_at <= now:
        raise KeyRequestError("the expiry must lie in the future")
    if len(label) > MAX_LABEL_LENGTH:
        raise KeyRequestError(f"a label has at most {MAX_LABEL_LENGTH} characters")
