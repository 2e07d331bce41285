"""Use case: create, update, list and show partners (S3, S4, ADR 0006).

Every change is audited in the same unit of work as the change itself:
`partner.changed` names the fields that changed, and `credentials.changed` is
written as well whenever the pull endpoint or its credentials change (S4),
naming which, never a value. An endpoint on the platform's own network (loopback,
private, link-local, metadata, in any spelling) is refused when it is set, by the
address policy the fetcher applies at pull time (ADR 0021). Credentials go through the `CredentialVault`
before they reach storage and never come back out of this use case: a
`PartnerView` only says whether they are set.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.domain.model.audit import AuditAction, AuditDetail, AuditEntry, Outcome
from partner_ingest.domain.model.currencies import MINOR_UNITS
from partner_ingest.domain.model.endpoints import endpoint_refusal
from partner_ingest.domain.model.errors import InvalidError, NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner, valid_partner_id
from partner_ingest.domain.model.policy import ValidationPolicy
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.credentials import CredentialVault
from partner_ingest.ports.formats import FormatRegistry
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = [
    "UNSET",
    "ManagePartners",
    "PartnerChanges",
    "PartnerRequestError",
    "PartnerView",
    "Unset",
]

MAX_NAME = 200
MAX_URL = 2048
MAX_SECRET = 4096
MAX_HEADERS = 32
MAX_RATE_LIMIT = 1_000_000
_URL: Final = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?")
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_CREDENTIAL_FIELDS: Final = ("endpoint", "endpoint_auth", "endpoint_headers")


class Unset(enum.Enum):
    """Marks a field an update leaves alone (None is a value: it clears the field)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


class PartnerRequestError(InvalidError):
    """A partner cannot be created or changed as asked; `problems` maps each field to why."""

    code = "invalid_partner"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {why}" for field, why in problems.items()))
        self.problems = dict(problems)

    @property
    def details(self) -> dict[str, Any]:
        return {"problems": self.problems}


@attrs.frozen(kw_only=True)
class PartnerChanges:
    """What a request sets; every field left UNSET stays as it is (or takes its default).

    `endpoint_auth` and the `endpoint_headers` values arrive in plaintext and are
    encrypted by the use case; they are never echoed.
    """

    name: str | Unset = UNSET
    default_format: str | Unset = UNSET
    default_version: int | Unset = UNSET
    policy: ValidationPolicy | Unset = UNSET
    allow_policy_override: bool | Unset = UNSET
    currency: str | Unset | None = UNSET
    rate_limit_per_minute: int | Unset | None = UNSET
    endpoint: str | Unset | None = UNSET
    endpoint_auth: str | Unset | None = attrs.field(default=UNSET, repr=False)
    endpoint_headers: Mapping[str, str] | Unset = attrs.field(default=UNSET, repr=False)
    active: bool | Unset = UNSET
    feed_mode: FeedMode | Unset = UNSET

    def given(self) -> list[str]:
        """Names of the fields this request sets, in declaration order."""
        return [f.name for f in attrs.fields(PartnerChanges) if getattr(self, f.name) is not UNSET]


@attrs.frozen
class PartnerView:
    """A partner as shown to an operator: everything but the credentials' values."""

    id: str
    name: str
    created_at: datetime
    default_format: str
    default_version: int
    policy: ValidationPolicy
    allow_policy_override: bool
    currency: str | None
    rate_limit_per_minute: int | None
    endpoint: str | None
    endpoint_auth_set: bool
    endpoint_header_names: tuple[str, ...]
    active: bool
    feed_mode: FeedMode = FeedMode.UPSERT

    @classmethod
    def of(cls, partner: Partner) -> PartnerView:
        """The view of a stored partner."""
        return cls(
            id=partner.id,
            name=partner.name,
            created_at=partner.created_at,
            default_format=partner.default_format,
            default_version=partner.default_version,
            policy=partner.policy,
            allow_policy_override=partner.allow_policy_override,
            currency=partner.currency,
            rate_limit_per_minute=partner.rate_limit_per_minute,
            endpoint=partner.endpoint,
            endpoint_auth_set=partner.endpoint_auth is not None,
            endpoint_header_names=tuple(sorted(partner.endpoint_headers)),
            active=partner.active,
            feed_mode=partner.feed_mode,
        )


class ManagePartners:
    """Partners for operators. `actor` is `Principal.actor` (HTTP) or `system` (CLI)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        vault: CredentialVault,
        formats: FormatRegistry,
        *,
        addresses: AddressPolicy | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._on_change = on_change
        """Called once a change is committed (the guard's verified keys hold partners: they forget)."""
        self._uow = uow
        self._clock = clock
        self._vault = vault
        self._formats = formats
        self._addresses = addresses or AddressPolicy()
        """The fetcher's policy (the operator's allow-list included), for endpoints."""

    def create(
        self, partner_id: str, changes: PartnerChanges, *, actor: str, client: str | None = None
    ) -> PartnerView:
        """A new partner; `changes.name` is required. ConflictError when the id exists."""
        problems = _check_input(changes, self._addresses)
        if not valid_partner_id(partner_id):
            problems["id"] = "a partner id is 1-64 characters: lowercase letters, digits, - and _"
        if changes.name is UNSET:
            problems["name"] = "required"
        now = self._clock.now()
        partner = self._apply(Partner(id=partner_id, name="", created_at=now), changes)
        problems.update(self._check_formats(partner, changes))
        if problems:
            raise PartnerRequestError(problems)
        with self._uow() as uow:
            uow.partners.add(partner)
            uow.audit.append_many(self._entries(partner, changes.given(), "created", actor, client))
            uow.commit()
        return PartnerView.of(partner)

    def update(
        self, partner_id: str, changes: PartnerChanges, *, actor: str, client: str | None = None
    ) -> PartnerView:
        """Change the given fields; NotFoundError for an unknown partner. Nothing given: no change."""
        problems = _check_input(changes, self._addresses)
        with self._uow() as uow:
            stored = uow.partners.get(partner_id)
            if stored is None:
                raise NotFoundError("partner", partner_id)
            partner = self._apply(stored, changes)
            problems.update(self._check_formats(partner, changes))
            if problems:
                raise PartnerRequestError(problems)
            # Credentials re-encrypt to a new token every time, so given counts as changed.
            changed = [
                name
                for name in changes.given()
                if name in ("endpoint_auth", "endpoint_headers")
                or getattr(stored, name) != getattr(partner, name)
            ]
            if changed:
                uow.partners.update(partner)
                uow.audit.append_many(self._entries(partner, changed, "updated", actor, client))
                uow.commit()
        if changed and self._on_change is not None:
            self._on_change()
        return PartnerView.of(partner)

    def get(self, partner_id: str) -> PartnerView:
        """One partner; NotFoundError when unknown."""
        with self._uow(read_only=True) as uow:
            found = uow.partners.get(partner_id)
        if found is None:
            raise NotFoundError("partner", partner_id)
        return PartnerView.of(found)

    def list_partners(self) -> list[PartnerView]:
        """Every partner, by id."""
        with self._uow(read_only=True) as uow:
            return [PartnerView.of(p) for p in uow.partners.all()]

    def _apply(self, partner: Partner, changes: PartnerChanges) -> Partner:
        values: dict[str, Any] = {}
        for name in changes.given():
            value = getattr(changes, name)
            if name == "endpoint_auth" and value is not None:
                value = self._vault.encrypt(value)
            elif name == "endpoint_headers":
                value = {header: self._vault.encrypt(text) for header, text in value.items()}
            values[name] = value
        return attrs.evolve(partner, **values)

    def _check_formats(self, partner: Partner, changes: PartnerChanges) -> dict[str, str]:
        if "default_format" not in changes.given() and "default_version" not in changes.given():
            return {}
        known = sorted({f.name for f in self._formats.all()})
        if partner.default_format not in known:
            return {"default_format": f"unknown format {partner.default_format!r}; known: {', '.join(known)}"}
        versions = list(self._formats.versions(partner.default_format))
        if partner.default_version not in versions:
            listed = ", ".join(map(str, versions))
            return {"default_version": f"{partner.default_format} has versions {listed}"}
        return {}

    def _entries(
        self, partner: Partner, fields: list[str], change: str, actor: str, client: str | None
    ) -> list[AuditEntry]:
        now = self._clock.now()
        plain = [f for f in fields if f not in _CREDENTIAL_FIELDS]
        details: dict[str, AuditDetail] = {"change": change, "fields": ",".join(plain)}
        if "active" in fields:
            details["active"] = partner.active
        entries = [
            AuditEntry(now, AuditAction.PARTNER_CHANGED, Outcome.SUCCESS, actor, partner.id, client, details)
        ]
        secret = [f for f in fields if f in _CREDENTIAL_FIELDS]
        if secret:
            # Which credential changed and whether it is now set; never a value or a ciphertext.
            creds: dict[str, AuditDetail] = {"change": change, "fields": ",".join(secret)}
            creds["endpoint_auth_set"] = partner.endpoint_auth is not None
            creds["endpoint_headers"] = ",".join(sorted(partner.endpoint_headers))
            entries.append(
                AuditEntry(
                    now, AuditAction.CREDENTIALS_CHANGED, Outcome.SUCCESS, actor, partner.id, client, creds
                )
            )
        return entries


def _check_input(changes: PartnerChanges, addresses: AddressPolicy) -> dict[str, str]:
    """Every problem of the request's own values (collected, not the first one only)."""
    problems: dict[str, str] = {}
    if isinstance(changes.name, str) and not (0 < len(changes.name.strip()) <= MAX_NAME):
        problems["name"] = f"1-{MAX_NAME} characters"
    elif isinstance(changes.name, str) and not changes.name.isprintable():
        problems["name"] = "no control characters"
    if isinstance(changes.default_version, int) and changes.default_version < 1:
        problems["default_version"] = "a version is 1 or more"
    if isinstance(changes.currency, str) and changes.currency not in MINOR_UNITS:
        problems["currency"] = "an ISO 4217 code in capitals (EUR, USD, JPY), or null for none"
    rate = changes.rate_limit_per_minute
    if isinstance(rate, int) and not 1 <= rate <= MAX_RATE_LIMIT:
        problems["rate_limit_per_minute"] = f"between 1 and {MAX_RATE_LIMIT}, or null for the default"
    endpoint = changes.endpoint
    if isinstance(endpoint, str):
        authority = endpoint.partition("://")[2].split("/", 1)[0]
        if "@" in authority:
            problems["endpoint"] = "no credentials in the URL: put them in endpoint_auth (stored encrypted)"
        elif len(endpoint) > MAX_URL or not _URL.fullmatch(endpoint):
            problems["endpoint"] = f"an http or https URL of at most {MAX_URL} characters"
        elif (refused := endpoint_refusal(endpoint, addresses)) is not None:
            problems["endpoint"] = f"refused: {refused}"
    auth = changes.endpoint_auth
    if isinstance(auth, str) and not (0 < len(auth) <= MAX_SECRET and _one_line(auth)):
        problems["endpoint_auth"] = f"1-{MAX_SECRET} characters on one line"
    headers = changes.endpoint_headers
    if not isinstance(headers, Unset):
        if len(headers) > MAX_HEADERS:
            problems["endpoint_headers"] = f"at most {MAX_HEADERS} headers"
        for header, value in headers.items():
            if not _HEADER_NAME.fullmatch(header):
                problems[f"endpoint_headers.{header[:64]}"] = "not a valid header name"
            elif not (len(value) <= MAX_SECRET and _one_line(value)):
                problems[f"endpoint_headers.{header}"] = f"at most {MAX_SECRET} characters on one line"
    return problems


def _one_line(text: str) -> bool:
    # CR or LF in a header value would let a stored value inject headers into our fetches.
    return "\r" not in text and "\n" not in text and "\x00" not in text
