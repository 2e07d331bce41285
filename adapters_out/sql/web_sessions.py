"""`partner_web_sessions`: portal and console sessions, keyed by the token's digest (ADR 0038, ADR 0040)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.web_sessions import WebSession

from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["SqlWebSessionRepository", "WebSessionRow", "web_session"]


class WebSessionRow(NamedTuple):
    """The columns a session is read from and written to, in order."""

    token_hash: str
    role: str
    partner_id: str | None
    key_id: str
    csrf_token: str
    created_at: Any
    expires_at: Any


_COLUMNS: Final = ", ".join(WebSessionRow._fields)


def web_session(row: WebSessionRow, d: Dialect) -> WebSession:
    """The session a row holds."""
    return WebSession(
        token_hash=row.token_hash,
        role=KeyRole(row.role),
        partner_id=row.partner_id,
        key_id=row.key_id,
        csrf_token=row.csrf_token,
        created_at=d.from_time(row.created_at),
        expires_at=d.from_time(row.expires_at),
    )


class SqlWebSessionRepository(SqlRepository):
    """Sessions on one connection (inside its unit of work's transaction)."""

    __slots__ = ()

    def add(self, session: WebSession) -> None:
        """Store a new session."""
        self._run(
            f"INSERT INTO partner_web_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            WebSessionRow(
                token_hash=session.token_hash,
                role=str(session.role),
                partner_id=session.partner_id,
                key_id=session.key_id,
                csrf_token=session.csrf_token,
                created_at=self._d.time(session.created_at),
                expires_at=self._d.time(session.expires_at),
            ),
        )

    def get(self, token_hash: str) -> WebSession | None:
        """The session of this digest, or None."""
        row = self._run(
            f"SELECT {_COLUMNS} FROM partner_web_sessions WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else web_session(WebSessionRow._make(row), self._d)

    def delete(self, token_hash: str) -> bool:
        """End one session."""
        return self._run("DELETE FROM partner_web_sessions WHERE token_hash = ?", (token_hash,)).rowcount > 0

    def delete_expired(self, now: datetime) -> int:
        """Forget expired sessions."""
        return self._run(
            "DELETE FROM partner_web_sessions WHERE expires_at <= ?", (self._d.time(now),)
        ).rowcount
