"""`partner` and `partner_api_keys`: who may send feeds, and the hashes of their keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from partner_ingest.adapters_out.store_errors import stored_conflict
from partner_ingest.domain.model.api_keys import ApiKey, KeyRole
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.model.policy import ValidationPolicy

from ._codec import dump_json, load_json, opt_dt, opt_ts
from ._errors import refusal
from .connection import from_timestamp, timestamp

__all__ = ["SqliteApiKeyRepository", "SqlitePartnerRepository"]

_PARTNER = (
    "id, name, created_at, default_format, default_version, policy, allow_policy_override,"
    " rate_limit_per_minute, endpoint, endpoint_auth, endpoint_headers, active, currency, feed_mode"
)


def _partner(row: Sequence[Any]) -> Partner:
    return Partner(
        id=row[0],
        name=row[1],
        created_at=from_timestamp(row[2]),
        default_format=row[3],
        default_version=row[4],
        policy=ValidationPolicy.from_json(load_json(row[5])),
        allow_policy_override=bool(row[6]),
        rate_limit_per_minute=row[7],
        endpoint=row[8],
        endpoint_auth=row[9],
        endpoint_headers=load_json(row[10]),
        active=bool(row[11]),
        currency=row[12],
        feed_mode=FeedMode(row[13] or FeedMode.UPSERT),
    )


def _partner_values(p: Partner) -> tuple[Any, ...]:
    return (
        p.id,
        p.name,
        timestamp(p.created_at),
        p.default_format,
        p.default_version,
        dump_json(p.policy.to_json()),
        int(p.allow_policy_override),
        p.rate_limit_per_minute,
        p.endpoint,
        p.endpoint_auth,
        dump_json(dict(p.endpoint_headers)),
        int(p.active),
        p.currency,
        str(p.feed_mode),
    )


class SqlitePartnerRepository:
    """Partners of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, partner: Partner) -> None:
        """Store a new partner; ConflictError when the id exists."""
        try:
            self._conn.execute(
                f"INSERT INTO partner ({_PARTNER}) VALUES ({', '.join('?' * 14)})", _partner_values(partner)
            )
        except sqlite3.IntegrityError as error:
            raise stored_conflict(f"partner {partner.id!r}", refusal(error), str(error)) from None

    def get(self, partner_id: str) -> Partner | None:
        """One partner, or None."""
        row = self._conn.execute(f"SELECT {_PARTNER} FROM partner WHERE id = ?", (partner_id,)).fetchone()
        return None if row is None else _partner(row)

    def update(self, partner: Partner) -> None:
        """Replace a stored partner; NotFoundError when absent."""
        values = _partner_values(partner)
        columns = _PARTNER.split(", ")[1:]
        cursor = self._conn.execute(
            f"UPDATE partner SET {', '.join(f'{c.strip()} = ?' for c in columns)} WHERE id = ?",
            (*values[1:], partner.id),
        )
        if cursor.rowcount == 0:
            raise NotFoundError("partner", partner.id)

    def all(self) -> list[Partner]:
        """Every partner, by id."""
        return [_partner(row) for row in self._conn.execute(f"SELECT {_PARTNER} FROM partner ORDER BY id")]


_KEY = "id, role, partner_id, secret_hash, created_at, expires_at, revoked_at, last_used_at, label, replaces"


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        id=row[0],
        role=KeyRole(row[1]),
        partner_id=row[2],
        secret_hash=bytes(row[3]),
        created_at=from_timestamp(row[4]),
        expires_at=opt_dt(row[5]),
        revoked_at=opt_dt(row[6]),
        last_used_at=opt_dt(row[7]),
        label=row[8],
        replaces=row[9],
    )


class SqliteApiKeyRepository:
    """API key records (hashes only) of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, key: ApiKey) -> None:
        """Store a new key record."""
        try:
            self._conn.execute(
                f"INSERT INTO partner_api_keys ({_KEY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    str(key.role),
                    key.partner_id,
                    key.secret_hash,
                    timestamp(key.created_at),
                    opt_ts(key.expires_at),
                    opt_ts(key.revoked_at),
                    opt_ts(key.last_used_at),
                    key.label,
                    key.replaces,
                ),
            )
        except sqlite3.IntegrityError as error:
            raise stored_conflict(f"key {key.id!r}", refusal(error), str(error)) from None

    def get(self, key_id: str) -> ApiKey | None:
        """One key record, or None."""
        row = self._conn.execute(f"SELECT {_KEY} FROM partner_api_keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else _key(row)

    def for_partner(self, partner_id: str | None) -> list[ApiKey]:
        """A partner's keys (admin keys when None), newest first."""
        if partner_id is None:
            rows = self._conn.execute(
                f"SELECT {_KEY} FROM partner_api_keys WHERE role = 'admin' ORDER BY created_at DESC, id DESC"
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_KEY} FROM partner_api_keys WHERE partner_id = ? ORDER BY created_at DESC, id DESC",
                (partner_id,),
            )
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Revoke from `at` on; an earlier revocation stands."""
        cursor = self._conn.execute(
            "UPDATE partner_api_keys SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > ?1"
            " THEN ?1 ELSE revoked_at END WHERE id = ?2",
            (timestamp(at), key_id),
        )
        return cursor.rowcount > 0

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        self._conn.execute(
            "UPDATE partner_api_keys SET last_used_at = ? WHERE id = ?", (timestamp(at), key_id)
        )

    def count(self) -> int:
        """How many keys exist."""
        return int(self._conn.execute("SELECT count(*) FROM partner_api_keys").fetchone()[0])

    def active_admin_keys(self, now: datetime) -> list[ApiKey]:
        """Admin keys in service at `now`, by id; a writing unit of work holds the database's
        write lock (BEGIN IMMEDIATE), so no other writer changes them meanwhile."""
        rows = self._conn.execute(
            f"SELECT {_KEY} FROM partner_api_keys WHERE role = 'admin' AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY id",
            (timestamp(now),),
        )
        return [_key(row) for row in rows]
