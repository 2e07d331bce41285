"""`partner_web_sessions`: portal and console sessions, keyed by the token's digest (ADR 0038)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.web_sessions import WebSession

from .connection import Connection

__all__ = ["PostgresWebSessionRepository"]

_COLUMNS: Final = "token_hash, role, partner_id, key_id, csrf_token, created_at, expires_at"


def _session(row: Sequence[Any]) -> WebSession:
    return WebSession(
        token_hash=row[0],
        role=KeyRole(row[1]),
        partner_id=row[2],
        key_id=row[3],
        csrf_token=row[4],
        created_at=row[5],
        expires_at=row[6],
    )


class PostgresWebSessionRepository:
    """Sessions on one connection (inside its unit of work's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session: WebSession) -> None:
        """Store a new session."""
        self._conn.execute(
            f"INSERT INTO partner_web_sessions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                session.token_hash,
                str(session.role),
                session.partner_id,
                session.key_id,
                session.csrf_token,
                session.created_at,
                session.expires_at,
            ),
        )

    def get(self, token_hash: str) -> WebSession | None:
        """The session of this digest, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_web_sessions WHERE token_hash = %s", (token_hash,)
        ).fetchone()
        return None if row is None else _session(row)

    def delete(self, token_hash: str) -> bool:
        """End one session."""
        cursor = self._conn.execute("DELETE FROM partner_web_sessions WHERE token_hash = %s", (token_hash,))
        return cursor.rowcount > 0

    def delete_expired(self, now: datetime) -> int:
        """Forget expired sessions."""
        cursor = self._conn.execute("DELETE FROM partner_web_sessions WHERE expires_at <= %s", (now,))
        return cursor.rowcount
