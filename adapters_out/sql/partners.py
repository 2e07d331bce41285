"""`partner` and `partner_api_keys`: who may send feeds, and the hashes of their keys (ADR 0040)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.api_keys import ApiKey, KeyRole
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.policy import ValidationPolicy

from ._json import dump_json, load_json
from .dialect import Dialect
from .repository import SqlRepository, select_list

__all__ = ["ApiKeyRow", "PartnerRow", "SqlApiKeyRepository", "SqlPartnerRepository", "api_key", "partner"]


class PartnerRow(NamedTuple):
    """The columns a partner is read from and written to, in order."""

    id: str
    name: str
    created_at: Any
    default_format: str
    default_version: int
    policy: str
    allow_policy_override: bool
    rate_limit_per_minute: int | None
    endpoint: str | None
    endpoint_auth: str | None
    endpoint_headers: str
    active: bool
    currency: str | None
    feed_mode: str | None


_PARTNER_COLUMNS: Final = ", ".join(PartnerRow._fields)
# policy and endpoint_headers are jsonb on PostgreSQL: read back as the text that was written.
_PARTNER_SELECT: Final = select_list(PartnerRow._fields, json=("policy", "endpoint_headers"))
_PARTNER_PLACEHOLDERS: Final = ", ".join("?" * len(PartnerRow._fields))
_PARTNER_ASSIGNMENTS: Final = ", ".join(f"{c} = ?" for c in PartnerRow._fields[1:])


def partner(row: PartnerRow, d: Dialect) -> Partner:
    """The partner a row holds."""
    return Partner(
        id=row.id,
        name=row.name,
        created_at=d.from_time(row.created_at),
        default_format=row.default_format,
        default_version=row.default_version,
        policy=ValidationPolicy.from_json(load_json(row.policy)),
        allow_policy_override=bool(row.allow_policy_override),
        rate_limit_per_minute=row.rate_limit_per_minute,
        endpoint=row.endpoint,
        endpoint_auth=row.endpoint_auth,
        endpoint_headers=load_json(row.endpoint_headers),
        active=bool(row.active),
        currency=row.currency,
        feed_mode=FeedMode(row.feed_mode or FeedMode.UPSERT),
    )


def _partner_row(p: Partner, d: Dialect) -> PartnerRow:
    return PartnerRow(
        id=p.id,
        name=p.name,
        created_at=d.time(p.created_at),
        default_format=p.default_format,
        default_version=p.default_version,
        policy=dump_json(p.policy.to_json()),
        allow_policy_override=p.allow_policy_override,
        rate_limit_per_minute=p.rate_limit_per_minute,
        endpoint=p.endpoint,
        endpoint_auth=p.endpoint_auth,
        endpoint_headers=dump_json(dict(p.endpoint_headers)),
        active=p.active,
        currency=p.currency,
        feed_mode=str(p.feed_mode),
    )


class SqlPartnerRepository(SqlRepository):
    """Partners of one connection's current transaction."""

    __slots__ = ()

    def add(self, partner: Partner) -> None:
        """Store a new partner; ConflictError when the id exists."""
        with self._d.conflicts(self._conn, f"partner {partner.id!r}"):
            self._run(
                f"INSERT INTO partner ({_PARTNER_COLUMNS}) VALUES ({_PARTNER_PLACEHOLDERS})",
                _partner_row(partner, self._d),
            )

    def get(self, partner_id: str) -> Partner | None:
        """One partner, or None."""
        row = self._run(f"SELECT {_PARTNER_SELECT} FROM partner WHERE id = ?", (partner_id,)).fetchone()
        return None if row is None else partner(PartnerRow._make(row), self._d)

    def update(self, partner: Partner) -> None:
        """Replace a stored partner; NotFoundError when absent."""
        row = _partner_row(partner, self._d)
        cursor = self._run(f"UPDATE partner SET {_PARTNER_ASSIGNMENTS} WHERE id = ?", (*row[1:], partner.id))
        if cursor.rowcount == 0:
            raise NotFoundError("partner", partner.id)

    def all(self) -> list[Partner]:
        """Every partner, by id."""
        rows = self._run(f"SELECT {_PARTNER_SELECT} FROM partner ORDER BY id")
        return [partner(PartnerRow._make(row), self._d) for row in rows]


class ApiKeyRow(NamedTuple):
    """The columns a key record is read from and written to, in order."""

    id: str
    role: str
    partner_id: str | None
    secret_hash: bytes
    created_at: Any
    expires_at: Any
    revoked_at: Any
    last_used_at: Any
    label: str
    replaces: str | None


_KEY: Final = ", ".join(ApiKeyRow._fields)
_KEY_PLACEHOLDERS: Final = ", ".join("?" * len(ApiKeyRow._fields))


def api_key(row: ApiKeyRow, d: Dialect) -> ApiKey:
    """The key record a row holds."""
    return ApiKey(
        id=row.id,
        role=KeyRole(row.role),
        partner_id=row.partner_id,
        secret_hash=bytes(row.secret_hash),
        created_at=d.from_time(row.created_at),
        expires_at=d.opt_from_time(row.expires_at),
        revoked_at=d.opt_from_time(row.revoked_at),
        last_used_at=d.opt_from_time(row.last_used_at),
        label=row.label,
        replaces=row.replaces,
    )


class SqlApiKeyRepository(SqlRepository):
    """Key records of one connection's current transaction."""

    __slots__ = ()

    def add(self, key: ApiKey) -> None:
        """Store a new key record; ConflictError when the id exists."""
        d = self._d
        with d.conflicts(self._conn, f"key {key.id!r}"):
            self._run(
                f"INSERT INTO partner_api_keys ({_KEY}) VALUES ({_KEY_PLACEHOLDERS})",
                ApiKeyRow(
                    id=key.id,
                    role=str(key.role),
                    partner_id=key.partner_id,
                    secret_hash=key.secret_hash,
                    created_at=d.time(key.created_at),
                    expires_at=d.opt_time(key.expires_at),
                    revoked_at=d.opt_time(key.revoked_at),
                    last_used_at=d.opt_time(key.last_used_at),
                    label=key.label,
                    replaces=key.replaces,
                ),
            )

    def get(self, key_id: str) -> ApiKey | None:
        """One key record, or None."""
        row = self._run(f"SELECT {_KEY} FROM partner_api_keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else api_key(ApiKeyRow._make(row), self._d)

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        """A partner's keys (admin keys when None), newest first."""
        params: tuple[str, ...] = ()
        if partner_id is None:
            where = "role = 'admin'"
        else:
            where, params = "partner_id = ?", (partner_id,)
        rows = self._run(
            f"SELECT {_KEY} FROM partner_api_keys WHERE {where} ORDER BY created_at DESC, id DESC", params
        )
        return [api_key(ApiKeyRow._make(row), self._d) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke from `at` on; an earlier revocation stands."""
        moment = self._d.time(at)
        cursor = self._run(
            "UPDATE partner_api_keys SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > ?"
            " THEN ? ELSE revoked_at END WHERE id = ?",
            (moment, moment, key_id),
        )
        return cursor.rowcount > 0

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        self._run("UPDATE partner_api_keys SET last_used_at = ? WHERE id = ?", (self._d.time(at), key_id))

    def count(self) -> int:
        """How many keys exist."""
        row = self._run("SELECT count(*) FROM partner_api_keys").fetchone()
        return 0 if row is None else int(row[0])

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        """Admin keys in service at `now`, by id, none of them changed by another writer until this one ends.

        SQLite's writing unit of work holds the database's write lock (BEGIN IMMEDIATE).
        PostgreSQL locks the rows FOR UPDATE: under READ COMMITTED a second transaction asking
        the same waits for the first to end, then re-checks each row it waited for (a key the
        first revoked no longer qualifies); locked in id order, two such never deadlock.
        """
        rows = self._run(
            f"SELECT {_KEY} FROM partner_api_keys WHERE role = 'admin' AND revoked_at IS NULL"
            f" AND (expires_at IS NULL OR expires_at > ?) ORDER BY id{self._d.for_update}",
            (self._d.time(now),),
        )
        return [api_key(ApiKeyRow._make(row), self._d) for row in rows]
