"""`partner_idempotency_keys`: each partner's Idempotency-Keys and the request each was first used for (ADR 0040)."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.idempotency import FeedFingerprint, KeyUse

from ._json import dump_json, load_json
from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["KeyUseRow", "SqlIdempotencyKeys", "key_use"]


class KeyUseRow(NamedTuple):
    """The columns a key use is read from and written to, in order."""

    partner_id: str
    key: str
    fingerprint: str
    created_at: Any
    feed_id: str | None
    job_id: str | None


_COLUMNS: Final = ", ".join(KeyUseRow._fields)


def key_use(row: KeyUseRow, d: Dialect) -> KeyUse:
    """The key use a row holds."""
    return KeyUse(
        partner_id=row.partner_id,
        key=row.key,
        fingerprint=FeedFingerprint.from_json(load_json(row.fingerprint)),
        created_at=d.from_time(row.created_at),
        feed_id=row.feed_id,
        job_id=row.job_id,
    )


class SqlIdempotencyKeys(SqlRepository):
    """Key uses in one connection's current transaction."""

    __slots__ = ()

    def add(self, use: KeyUse) -> None:
        """Record a key's first use; IdempotencyKeyTaken when the partner used it already (on PostgreSQL
        a concurrent first use waits for the other transaction, then is refused if it committed)."""
        with self._d.conflicts(self._conn, f"Idempotency-Key {use.key!r}"):
            self._run(
                f"INSERT INTO partner_idempotency_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                KeyUseRow(
                    partner_id=use.partner_id,
                    key=use.key,
                    fingerprint=dump_json(use.fingerprint.to_json()),
                    created_at=self._d.time(use.created_at),
                    feed_id=use.feed_id,
                    job_id=use.job_id,
                ),
            )

    def get(self, partner_id: str, key: str) -> KeyUse | None:
        """The first use of a partner's key, or None."""
        row = self._run(
            f"SELECT {_COLUMNS} FROM partner_idempotency_keys WHERE partner_id = ? AND key = ?",
            (partner_id, key),
        ).fetchone()
        return None if row is None else key_use(KeyUseRow._make(row), self._d)
