"""A signed-in person's session on the portal or the console (ADR 0038).

The browser holds a random token; the store holds only its SHA-256 digest, so a
leaked session table signs nobody in. The token carries 256 bits of randomness,
so a plain digest (no salt, no key) is as good as a password hash here and can
be looked up directly.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import attrs

from .api_keys import KeyRole, Principal

__all__ = ["WebSession", "csrf_matches", "token_digest"]


def token_digest(token: str) -> str:
    """What the store keeps of a session token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def csrf_matches(expected: str, presented: str | None) -> bool:
    """A form's CSRF token is the session's own (compared in constant time)."""
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


@attrs.frozen
class WebSession:
    """One sign-in: who it acts as, its CSRF token, and until when it holds."""

    token_hash: str
    role: KeyRole
    partner_id: str | None
    key_id: str
    """The API key signed in with: revoking the key ends its sessions at their next request."""
    csrf_token: str
    """The synchronizer token every form of this session must carry."""
    created_at: datetime
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        """Who the session's requests act as (the same principal as its key's API calls)."""
        return Principal(role=self.role, partner_id=self.partner_id, key_id=self.key_id)

    def live_at(self, now: datetime) -> bool:
        """Not yet expired at `now`."""
        return now < self.expires_at
