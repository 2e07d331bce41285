"""The in-memory session repository: sessions by token digest."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from partner_ingest.domain.model.web_sessions import WebSession

if TYPE_CHECKING:
    from .store import UndoLog

__all__ = ["InMemoryWebSessionRepository"]


class InMemoryWebSessionRepository:
    """Sessions of one unit of work; changes are undone on rollback."""

    def __init__(self, table: dict[str, WebSession], undo: UndoLog) -> None:
        self._table = table
        self._undo = undo

    def add(self, session: WebSession) -> None:
        """Store a new session."""
        self._undo.set(self._table, session.token_hash, session)

    def get(self, token_hash: str) -> WebSession | None:
        """The session of this digest, or None."""
        return self._table.get(token_hash)

    def delete(self, token_hash: str) -> bool:
        """End one session."""
        if token_hash not in self._table:
            return False
        self._undo.delete(self._table, token_hash)
        return True

    def delete_expired(self, now: datetime) -> int:
        """Forget expired sessions."""
        gone = [digest for digest, session in self._table.items() if session.expires_at <= now]
        for digest in gone:
            self._undo.delete(self._table, digest)
        return len(gone)
