"""API keys (ADR 0004): their text format, their stored record, and who presented one.

A key reads `pcik_<id>_<secret><checksum>` (`pcia_` for admin keys):

- the prefix lets secret scanners (GitHub push protection, gitleaks, trufflehog)
  recognize a leaked key and tells partner keys from admin keys at a glance;
- `<id>` (13 base62 characters, 72 random bits) is public: it is stored, logged,
  shown in listings, and used to look the key up;
- `<secret>` (43 base62 characters, exactly 256 random bits) is shown once and
  never stored; only its HMAC is;
- `<checksum>` (6 base62 characters) is the CRC32 of everything before it, so a
  mistyped, truncated or invented key is refused without touching the database.
  It is not a security measure (anyone can compute it); it only saves a lookup.

This module is pure: randomness comes in as a parameter (the adapters pass
`secrets.token_bytes`), and nothing here reads a clock or a store.
"""

from __future__ import annotations

import enum
import hmac
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Final

import attrs

__all__ = [
    "ID_BYTES",
    "KEY_LENGTH",
    "SECRET_BYTES",
    "ApiKey",
    "IssuedKey",
    "KeyRole",
    "ParsedKey",
    "Principal",
    "hash_secret",
    "key_prefix",
    "masked_key",
    "new_api_key",
    "parse_api_key",
    "secrets_match",
    "validate_server_secret",
]


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
    secret_hash: bytes = attrs.field(repr=False)
    """HMAC-SHA256 of the secret under the server's key-hashing secret."""
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    """When the key stops working. May lie in the future: a rotated key keeps working
    until the end of its overlap period, then stops (see `ManageKeys.rotate`)."""
    last_used_at: datetime | None = None
    """Updated at most once a minute (a write per request would cost more than it tells)."""
    label: str = ""
    replaces: str | None = None
    """The id of the key this one rotated out, if any (written once, at creation)."""

    def usable_at(self, now: datetime) -> bool:
        """Not revoked and not expired at `now`."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at


@attrs.frozen
class Principal:
    """Who an authenticated request acts as."""

    role: KeyRole
    partner_id: str | None
    """The partner for a PARTNER key; None for an ADMIN key."""
    key_id: str

    @property
    def is_admin(self) -> bool:
        """An admin key."""
        return self.role is KeyRole.ADMIN

    @property
    def actor(self) -> str:
        """The audit trail's name for this principal: the partner id, or `admin:<key id>`."""
        if self.role is KeyRole.ADMIN or self.partner_id is None:
            return f"admin:{self.key_id}"
        return self.partner_id


# --- the text format ------------------------------------------------------------

_PREFIXES: Final = {KeyRole.PARTNER: "pcik_", KeyRole.ADMIN: "pcia_"}
_ROLES: Final = {prefix: role for role, prefix in _PREFIXES.items()}
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

ID_BYTES: Final = 9
"""72 random bits: collisions stay negligible for billions of keys."""
SECRET_BYTES: Final = 32
"""256 random bits: unguessable, so a fast hash is enough (see `hash_secret`)."""
_ID_CHARS: Final = 13  # ceil(72 / log2(62))
_SECRET_CHARS: Final = 43  # ceil(256 / log2(62))
_CHECKSUM_CHARS: Final = 6  # 62**6 > 2**32
KEY_LENGTH: Final = 5 + _ID_CHARS + 1 + _SECRET_CHARS + _CHECKSUM_CHARS

_KEY_PATTERN: Final = re.compile(
    rf"(pcik_|pcia_)([0-9A-Za-z]{{{_ID_CHARS}}})_([0-9A-Za-z]{{{_SECRET_CHARS}}})([0-9A-Za-z]{{{_CHECKSUM_CHARS}}})"
)


def _base62(value: int, width: int) -> str:
    """`value` in base62, left-padded to exactly `width` characters."""
    digits = []
    while value:
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    if len(digits) > width:
        raise ValueError(f"{width} base62 characters cannot hold this value")
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    """`_base62(crc32, 6)`, the same text, three base-3844 digits looked up as pairs: every
    request's key is checked, and the digit loop was most of the check's cost."""
    high, low = divmod(zlib.crc32(body.encode("ascii")), _PAIR_BASE)
    return _PAIRS[high // _PAIR_BASE] + _PAIRS[high % _PAIR_BASE] + _PAIRS[low]


_PAIR_BASE: Final = 62 * 62
_PAIRS: Final = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
"""Every two-character base62 number, "00" to "zz", by value."""


def key_prefix(role: KeyRole) -> str:
    """The visible prefix of a role's keys: `pcik_` (partner) or `pcia_` (admin)."""
    return _PREFIXES[role]


def masked_key(role: KeyRole, key_id: str) -> str:
    """How a listing shows a key: its prefix and id, never a character of the secret."""
    return f"{_PREFIXES[role]}{key_id}_****"


@attrs.frozen
class ParsedKey:
    """A well-formed presented key, split into its parts (not yet checked against a store)."""

    role: KeyRole
    key_id: str
    secret: str = attrs.field(repr=False)

    @property
    def prefix(self) -> str:
        """`pcik_` or `pcia_`."""
        return _PREFIXES[self.role]


@attrs.frozen
class IssuedKey:
    """A freshly made key: the plaintext to show once, and the parts to store."""

    plaintext: str = attrs.field(repr=False)
    role: KeyRole
    key_id: str
    secret: str = attrs.field(repr=False)

    def record(
        self,
        server_secret: bytes,
        *,
        partner_id: str | None,
        created_at: datetime,
        expires_at: datetime | None = None,
        label: str = "",
        replaces: str | None = None,
    ) -> ApiKey:
        """The record to store: the id and the secret's keyed hash, never the secret."""
        return ApiKey(
            id=self.key_id,
            role=self.role,
            partner_id=partner_id,
            secret_hash=hash_secret(self.secret, server_secret),
            created_at=created_at,
            expires_at=expires_at,
            label=label,
            replaces=replaces,
        )


def new_api_key(role: KeyRole, random_bytes: Callable[[int], bytes]) -> IssuedKey:
    """Make a key from `random_bytes(n)` (pass `secrets.token_bytes`; tests pass a fake)."""
    raw_id = random_bytes(ID_BYTES)
    raw_secret = random_bytes(SECRET_BYTES)
    if len(raw_id) != ID_BYTES or len(raw_secret) != SECRET_BYTES:
        raise ValueError("random_bytes(n) must return exactly n bytes")
    key_id = _base62(int.from_bytes(raw_id, "big"), _ID_CHARS)
    secret = _base62(int.from_bytes(raw_secret, "big"), _SECRET_CHARS)
    body = f"{_PREFIXES[role]}{key_id}_{secret}"
    return IssuedKey(plaintext=body + _checksum(body), role=role, key_id=key_id, secret=secret)


def parse_api_key(text: str | None) -> ParsedKey | None:
    """The parts of a well-formed key, or None for anything else: missing, wrong prefix,
    wrong length or alphabet, or a checksum that does not match (a typo, or a guess)."""
    # The length test first: an attacker controls `text`, which may be megabytes long.
    if text is None or len(text) != KEY_LENGTH:
        return None
    match = _KEY_PATTERN.fullmatch(text)
    if match is None:
        return None
    prefix, key_id, secret, checksum = match.groups()
    # Not a secret comparison: the checksum is computable by anyone from the rest.
    if _checksum(text[:-_CHECKSUM_CHARS]) != checksum:
        return None
    return ParsedKey(role=_ROLES[prefix], key_id=key_id, secret=secret)


def hash_secret(secret: str, server_secret: bytes) -> bytes:
    """HMAC-SHA256 of a key's secret under the server's key-hashing secret.

    Deliberately fast. A slow password hash (argon2, scrypt, bcrypt) exists to make
    brute-forcing a low-entropy human password expensive; these secrets carry 256
    random bits, which no amount of hashing speed makes guessable, so a slow hash
    would only add latency to every request (and hand attackers a cheap CPU DoS).
    The server secret (a pepper kept outside the database) means a stolen
    `partner_api_keys` table alone does not even allow checking a guess offline.
    """
    # Not `hmac.digest`: its one C call lets the GIL go around OpenSSL's HMAC, however short the
    # input, and a server's event loop, checking a key for every request, then waited for
    # another thread to hand the GIL back. `hmac.new` keeps it for inputs this small.
    return hmac.new(server_secret, secret.encode("ascii"), "sha256").digest()


MIN_SERVER_SECRET_BYTES: Final = 32


def validate_server_secret(server_secret: bytes) -> bytes:
    """The key-hashing secret, if it is long enough to be one (32 random bytes or more)."""
    if len(server_secret) < MIN_SERVER_SECRET_BYTES:
        raise ValueError(f"the key-hashing secret needs at least {MIN_SERVER_SECRET_BYTES} bytes")
    return server_secret


def secrets_match(a: bytes, b: bytes) -> bool:
    """Constant-time equality, so response timing does not reveal a matching prefix."""
    return hmac.compare_digest(a, b)
