"""Use cases: admins manage pull schedules, and re-encrypt stored partner credentials.

An enabled schedule is refused while its partner's endpoint is one the fetcher would refuse
(an endpoint stored before that check, or allowed by an operator list since narrowed): the
admin hears why now instead of finding refused pulls in the audit trail (ADR 0021).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.cron import InvalidScheduleError
from partner_ingest.domain.model.endpoints import endpoint_refusal
from partner_ingest.domain.model.errors import NotFoundError, UnknownFormatError, UnknownVersionError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.credentials import CredentialVault
from partner_ingest.ports.cron import CronRules
from partner_ingest.ports.formats import FormatRegistry
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .schedule_runs import next_run

__all__ = ["MAX_INTERVAL", "MIN_INTERVAL", "ManageSchedules", "RotateCredentials"]

MIN_INTERVAL = 60
MAX_INTERVAL = 366 * 24 * 3600
"""A yearly pull at most: a longer interval is a schedule that never runs (and overflows a date)."""


class ManageSchedules:
    """Create, change, list and delete partner pull schedules; every change audited."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        formats: FormatRegistry,
        clock: Clock,
        ids: IdSource,
        *,
        cron: CronRules,
        addresses: AddressPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._formats = formats
        self._clock = clock
        self._ids = ids
        self._cron = cron
        self._addresses = addresses or AddressPolicy()
        """The fetcher's policy (the operator's allow-list included), for the partner's endpoint."""

    def create(
        self,
        partner_id: str,
        *,
        actor: str,
        interval_seconds: int | None = None,
        cron: str | None = None,
        format: str | None = None,
        version: int | None = None,
        enabled: bool = True,
        client: str | None = None,
        feed_mode: FeedMode | None = None,
    ) -> Schedule:
        """A new schedule; its first run is the next one its rule allows from now.
        NotFoundError for an unknown partner (checked before the rule itself)."""
        now = self._clock.now()
        draft = Schedule(
            id=self._ids.new_id("schedule"),
            partner_id=partner_id,
            next_run_at=now,
            interval_seconds=interval_seconds,
            cron=cron,
            enabled=enabled,
            format=format,
            version=version,
            feed_mode=feed_mode,
        )
        with self._uow() as uow:
            partner = uow.partners.get(partner_id)
            if partner is None:
                raise NotFoundError("partner", partner_id)
            schedule = attrs.evolve(draft, next_run_at=self._first_run(draft, now))
            self._check_format(schedule, partner.default_format, partner.default_version)
            self._check_endpoint(schedule, partner)
            uow.schedules.add(schedule)
            uow.audit.append(self._entry(actor, schedule, "created", now, client))
            uow.commit()
        return schedule

    def update(
        self,
        schedule_id: str,
        *,
        actor: str,
        interval_seconds: int | None = None,
        cron: str | None = None,
        enabled: bool | None = None,
        client: str | None = None,
    ) -> Schedule:
        """Change the rule (interval or cron) or switch the schedule on or off."""
        now = self._clock.now()
        with self._uow() as uow:
            current = uow.schedules.get(schedule_id)
            if current is None:
                raise NotFoundError("schedule", schedule_id)
            changed = current
            if interval_seconds is not None or cron is not None:
                changed = attrs.evolve(changed, interval_seconds=interval_seconds, cron=cron)
                changed = attrs.evolve(changed, next_run_at=self._first_run(changed, now))
            if enabled is not None:
                changed = attrs.evolve(changed, enabled=enabled)
            self._check_endpoint(changed, uow.partners.get(changed.partner_id))
            uow.schedules.update(changed)
            uow.audit.append(self._entry(actor, changed, "updated", now, client))
            uow.commit()
        return changed

    def delete(self, schedule_id: str, *, actor: str, client: str | None = None) -> None:
        """Remove a schedule; NotFoundError when unknown."""
        now = self._clock.now()
        with self._uow() as uow:
            current = uow.schedules.get(schedule_id)
            if current is None or not uow.schedules.delete(schedule_id):
                raise NotFoundError("schedule", schedule_id)
            uow.audit.append(self._entry(actor, current, "deleted", now, client))
            uow.commit()

    def get(self, schedule_id: str) -> Schedule:
        """One schedule."""
        with self._uow(read_only=True) as uow:
            found = uow.schedules.get(schedule_id)
        if found is None:
            raise NotFoundError("schedule", schedule_id)
        return found

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules, by id: every one, or a partner's. NotFoundError for a partner that does
        not exist (an empty list would say it has no schedules)."""
        with self._uow(read_only=True) as uow:
            if partner_id is not None and uow.partners.get(partner_id) is None:
                raise NotFoundError("partner", partner_id)
            return uow.schedules.all(partner_id)

    def _first_run(self, schedule: Schedule, now: datetime) -> datetime:
        if (schedule.interval_seconds is None) == (schedule.cron is None):
            raise InvalidScheduleError(
                "a schedule has either interval_seconds or cron, not both and not neither"
            )
        if (
            schedule.interval_seconds is not None
            and not MIN_INTERVAL <= schedule.interval_seconds <= MAX_INTERVAL
        ):
            raise InvalidScheduleError(f"interval_seconds must be from {MIN_INTERVAL} to {MAX_INTERVAL}")
        if schedule.cron is not None:
            return next_run(schedule, now, self._cron)
        return now  # an interval schedule runs at once, then every interval

    def _check_endpoint(self, schedule: Schedule, partner: Partner | None) -> None:
        if not schedule.enabled or partner is None or not partner.endpoint:
            return  # never pulled, or pulled as `no_endpoint` until the partner has one
        refused = endpoint_refusal(partner.endpoint, self._addresses)
        if refused is not None:
            raise InvalidScheduleError(
                f"partner {partner.id!r} has its endpoint refused ({refused}); change the endpoint first"
            )

    def _check_format(self, schedule: Schedule, default_format: str, default_version: int) -> None:
        # A schedule names no media type: an unknown format is a wrong schedule, not a 415.
        # `is None`, not `or`: version 0 or format "" are wrong values, not "the partner's".
        fmt = default_format if schedule.format is None else schedule.format
        version = default_version if schedule.version is None else schedule.version
        try:
            self._formats.get(fmt, version)
        except (UnknownFormatError, UnknownVersionError) as error:
            raise InvalidScheduleError(f"the pulled feed's format: {error}") from None

    def _entry(
        self, actor: str, schedule: Schedule, change: str, now: datetime, client: str | None
    ) -> AuditEntry:
        return AuditEntry(
            at=now,
            action=AuditAction.ADMIN_ACTION,
            outcome=Outcome.SUCCESS,
            actor=actor,
            partner_id=schedule.partner_id,
            client=client,
            details={
                "schedule_id": schedule.id,
                "change": change,
                "interval_seconds": schedule.interval_seconds,
                "cron": schedule.cron,
                "enabled": schedule.enabled,
            },
        )


class RotateCredentials:
    """Re-encrypt every stored partner credential (endpoint credentials, webhook signing
    secrets) under the vault's newest key (S4)."""

    def __init__(self, uow: UnitOfWorkFactory, vault: CredentialVault, clock: Clock) -> None:
        self._uow = uow
        self._vault = vault
        self._clock = clock

    def __call__(self, *, actor: str = "system") -> int:
        """How many partners had credentials re-encrypted; all in one unit of work."""
        now = self._clock.now()
        rotated = 0
        with self._uow() as uow:
            for partner in uow.partners.all():
                if not partner.endpoint_auth and not partner.endpoint_headers:
                    continue
                uow.partners.update(
                    attrs.evolve(
                        partner,
                        endpoint_auth=None
                        if partner.endpoint_auth is None
                        else self._vault.rotate(partner.endpoint_auth),
                        endpoint_headers={
                            k: self._vault.rotate(v) for k, v in partner.endpoint_headers.items()
                        },
                    )
                )
                uow.audit.append(
                    AuditEntry(
                        at=now,
                        action=AuditAction.CREDENTIALS_CHANGED,
                        outcome=Outcome.SUCCESS,
                        actor=actor,
                        partner_id=partner.id,
                        details={"change": "re-encrypted under the newest key"},
                    )
                )
                rotated += 1
            for hook in uow.webhooks.all():
                previous = hook.previous_secret
                uow.webhooks.put(
                    attrs.evolve(
                        hook,
                        secret=self._vault.rotate(hook.secret),
                        previous_secret=None if previous is None else self._vault.rotate(previous),
                    )
                )
                uow.audit.append(
                    AuditEntry(
                        at=now,
                        action=AuditAction.WEBHOOK_CHANGED,
                        outcome=Outcome.SUCCESS,
                        actor=actor,
                        partner_id=hook.partner_id,
                        details={"change": "secret re-encrypted under the newest key"},
                    )
                )
            uow.commit()
        return rotated
