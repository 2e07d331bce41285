"""`partner_idempotency_keys`: each partner's Idempotency-Keys and the request each was first used for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from partner_ingest.domain.model.idempotency import FeedFingerprint, KeyUse

from ._codec import dump_json, load_json
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresIdempotencyKeys"]

_COLUMNS: Final = "partner_id, key, fingerprint, created_at, feed_id, job_id"


def _use(row: Sequence[Any]) -> KeyUse:
    partner_id, key, fingerprint, created_at, feed_id, job_id = row
    return KeyUse(
        partner_id=partner_id,
        key=key,
        fingerprint=FeedFingerprint.from_json(load_json(fingerprint)),
        created_at=created_at,
        feed_id=feed_id,
        job_id=job_id,
    )


class PostgresIdempotencyKeys:
    """Key uses in one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, use: KeyUse) -> None:
        """Record a key's first use; IdempotencyKeyTaken when the partner used it already (a
        concurrent first use waits for the other transaction, then is refused if it committed)."""
        with conflicts(self._conn, f"Idempotency-Key {use.key!r}"):
            self._conn.execute(
                f"INSERT INTO partner_idempotency_keys ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    use.partner_id,
                    use.key,
                    dump_json(use.fingerprint.to_json()),
                    use.created_at,
                    use.feed_id,
                    use.job_id,
                ),
            )

    def get(self, partner_id: str, key: str) -> KeyUse | None:
        """The first use of a partner's key, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_idempotency_keys WHERE partner_id = %s AND key = %s",
            (partner_id, key),
        ).fetchone()
        return None if row is None else _use(row)
