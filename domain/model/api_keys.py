"""API keys as stored: never the secret, only its keyed hash and what is safe to show."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["ApiKey", "KeyRole"]


class KeyRole(enum.StrEnum):
    """What a key may do: send a partner's feeds, or administer the platform (ADR 0006)."""

    PARTNER = "partner"
    ADMIN = "admin"


@attrs.frozen
class ApiKey:
    """One issued key. The secret itself is shown once at creation and never stored."""

    id: str
    """Public identifier embedded in the key, used to look it up (safe to log)."""
    role: KeyRole
    partner_id: str | None
    """The partner a PARTNER key belongs to; None for ADMIN keys."""
    secret_hash: bytes
    """HMAC-SHA256 of the secret under the server's key-hashing secret."""
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    label: str = ""

    def usable_at(self, now: datetime) -> bool:
        """Not revoked and not expired at `now`."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at
