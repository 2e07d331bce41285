"""`partner` and `partner_api_keys`: who may send feeds, and the hashes of their keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.api_keys import ApiKey, KeyRole
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.policy import ValidationPolicy

from ._codec import dump_json, load_json
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresApiKeyRepository", "PostgresPartnerRepository"]

_PARTNER_FIELDS: Final = (
    "id",
    "name",
    "created_at",
    "default_format",
    "default_version",
    "policy",
    "allow_policy_override",
    "rate_limit_per_minute",
    "endpoint",
    "endpoint_auth",
    "endpoint_headers",
    "active",
    "currency",
    "feed_mode",
)
# jsonb columns are read back as their text and parsed here, exactly as they were written.
_PARTNER_SELECT: Final = ", ".join(
    f"{c}::text" if c in ("policy", "endpoint_headers") else c for c in _PARTNER_FIELDS
)
_PARTNER_PLACEHOLDERS: Final = ", ".join(
    "%s::jsonb" if c in ("policy", "endpoint_headers") else "%s" for c in _PARTNER_FIELDS
)


def _partner(row: Sequence[Any]) -> Partner:
    return Partner(
        id=row[0],
        name=row[1],
        created_at=row[2],
        default_format=row[3],
        default_version=row[4],
        policy=ValidationPolicy.from_json(load_json(row[5])),
        allow_policy_override=row[6],
        rate_limit_per_minute=row[7],
        endpoint=row[8],
        endpoint_auth=row[9],
        endpoint_headers=load_json(row[10]),
        active=row[11],
        currency=row[12],
        feed_mode=FeedMode(row[13] or FeedMode.UPSERT),
    )


def _partner_values(p: Partner) -> tuple[Any, ...]:
    return (
        p.id,
        p.name,
        p.created_at,
        p.default_format,
        p.default_version,
        dump_json(p.policy.to_json()),
        p.allow_policy_override,
        p.rate_limit_per_minute,
        p.endpoint,
        p.endpoint_auth,
        dump_json(dict(p.endpoint_headers)),
        p.active,
        p.currency,
        str(p.feed_mode),
    )


class PostgresPartnerRepository:
    """Partners of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, partner: Partner) -> None:
        """Store a new partner; ConflictError when the id exists."""
        with conflicts(self._conn, f"partner {partner.id!r}"):
            self._conn.execute(
                f"INSERT INTO partner ({', '.join(_PARTNER_FIELDS)}) VALUES ({_PARTNER_PLACEHOLDERS})",
                _partner_values(partner),
            )

    def get(self, partner_id: str) -> Partner | None:
        """One partner, or None."""
        row = self._conn.execute(
            f"SELECT {_PARTNER_SELECT} FROM partner WHERE id = %s", (partner_id,)
        ).fetchone()
        return None if row is None else _partner(row)

    def update(self, partner: Partner) -> None:
        """Replace a stored partner; NotFoundError when absent."""
        assignments = ", ".join(
            f"{c} = {p}"
            for c, p in zip(_PARTNER_FIELDS[1:], _PARTNER_PLACEHOLDERS.split(", ")[1:], strict=True)
        )
        cursor = self._conn.execute(
            f"UPDATE partner SET {assignments} WHERE id = %s", (*_partner_values(partner)[1:], partner.id)
        )
        if cursor.rowcount == 0:
            raise NotFoundError("partner", partner.id)

    def all(self) -> list[Partner]:
        """Every partner, by id."""
        return [
            _partner(row) for row in self._conn.execute(f"SELECT {_PARTNER_SELECT} FROM partner ORDER BY id")
        ]


_KEY: Final = (
    "id, role, partner_id, secret_hash, created_at, expires_at, revoked_at, last_used_at, label, replaces"
)


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        id=row[0],
        role=KeyRole(row[1]),
        partner_id=row[2],
        secret_hash=bytes(row[3]),
        created_at=row[4],
        expires_at=row[5],
        revoked_at=row[6],
        last_used_at=row[7],
        label=row[8],
        replaces=row[9],
    )


class PostgresApiKeyRepository:
    """API key records (hashes only) of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, key: ApiKey) -> None:
        """Store a new key record."""
        with conflicts(self._conn, f"key {key.id!r}"):
            self._conn.execute(
                f"INSERT INTO partner_api_keys ({_KEY}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    key.id,
                    str(key.role),
                    key.partner_id,
                    key.secret_hash,
                    key.created_at,
                    key.expires_at,
                    key.revoked_at,
                    key.last_used_at,
                    key.label,
                    key.replaces,
                ),
            )

    def get(self, key_id: str) -> ApiKey | None:
        """One key record, or None."""
        row = self._conn.execute(f"SELECT {_KEY} FROM partner_api_keys WHERE id = %s", (key_id,)).fetchone()
        return None if row is None else _key(row)

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        """A partner's keys (admin keys when None), newest first."""
        if partner_id is None:
            rows = self._conn.execute(
                f"SELECT {_KEY} FROM partner_api_keys WHERE role = 'admin' ORDER BY created_at DESC, id DESC"
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_KEY} FROM partner_api_keys WHERE partner_id = %s ORDER BY created_at DESC, id DESC",
                (partner_id,),
            )
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke from `at` on; an earlier revocation stands."""
        cursor = self._conn.execute(
            "UPDATE partner_api_keys SET revoked_at = least(revoked_at, %s) WHERE id = %s", (at, key_id)
        )
        return cursor.rowcount > 0

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        self._conn.execute("UPDATE partner_api_keys SET last_used_at = %s WHERE id = %s", (at, key_id))

    def count(self) -> int:
        """How many keys exist."""
        row = self._conn.execute("SELECT count(*) FROM partner_api_keys").fetchone()
        return 0 if row is None else int(row[0])

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        """Admin keys in service at `now`, by id, locked FOR UPDATE until the transaction ends.

        Under READ COMMITTED a second transaction asking the same waits for the first to end,
        then re-checks each row it waited for: a key the first revoked no longer qualifies.
        The rows are locked in id order, so two such transactions never deadlock.
        """
        rows = self._conn.execute(
            f"SELECT {_KEY} FROM partner_api_keys WHERE role = 'admin' AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > %s) ORDER BY id FOR UPDATE",
            (now,),
        )
        return [_key(row) for row in rows]
