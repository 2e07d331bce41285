"""Keys this process verified a moment ago, with the partner it read beside each (ADR 0045).

The access guard reads a key and its partner for every request that presents one. Within
`seconds` of such a read, a request presenting the same key with the same secret is decided
from what was read then, without the read: the key's expiry and revocation time are still
compared with the request's own time, so a key that expires or reaches its rotation's end in
between is refused exactly when it would have been.

What a read a moment ago cannot know is a change made since, by this process or another:

- made by this process (its `ManageKeys` revoking or rotating a key, its `ManagePartners`
  changing a partner): they call `forget`, and the next request reads again;
- made by another process (a second instance, the CLI): seen at most `seconds` after the
  read that is still in use, the bound ADR 0045 states.

Only what passed is kept: an unknown key, a wrong secret or a refused key is read every
time, so every refusal costs and answers the same as before (S1). Bounded: at `size` keys
the whole table is dropped (the store stays the judge; a drop costs one read a key).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final

from partner_ingest.domain.model.api_keys import ApiKey, secrets_match
from partner_ingest.domain.model.partner import Partner

__all__ = ["DEFAULT_SECONDS", "VerifiedKeys"]

DEFAULT_SECONDS: Final = 1.0
"""How long a verified key is taken as read (PARTNER_INGEST_KEY_CACHE_SECONDS)."""
_SIZE: Final = 4096


class VerifiedKeys:
    """Key id -> (the key, its partner, when they were read); see the module docstring."""

    def __init__(self, seconds: float = DEFAULT_SECONDS, *, size: int = _SIZE) -> None:
        if seconds < 0:
            raise ValueError("seconds must be 0 (off) or more")
        self.seconds = seconds
        self._ttl = timedelta(seconds=seconds)
        self._size = size
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[ApiKey, Partner | None, datetime]] = {}
        self._generation = 0
        """Bumped by `forget`: a read that began before is not kept (it may predate the change)."""

    @property
    def generation(self) -> int:
        """Take it before reading a key; hand it to `put` with what was read."""
        return self._generation

    def get(self, key_id: str, presented_hash: bytes, now: datetime) -> tuple[ApiKey, Partner | None] | None:
        """The key and its partner as read less than `seconds` before `now`, when `presented_hash`
        is the key's; None otherwise (never read, read too long ago, another secret)."""
        found = self._entries.get(key_id)
        if found is None:
            return None
        key, partner, read_at = found
        # A clock set back makes the age negative: read again rather than trust it.
        if not timedelta(0) <= now - read_at < self._ttl:
            return None
        if not secrets_match(presented_hash, key.secret_hash):
            return None
        return key, partner

    def put(self, key: ApiKey, partner: Partner | None, read_at: datetime, generation: int) -> None:
        """Keep a key that passed, read at `read_at`; dropped when `forget` ran since `generation`."""
        if not self.seconds:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[key.id] = (key, partner, read_at)

    def forget(self) -> None:
        """Keys or partners changed in this process: read every key again."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
