"""The credential vault: partner fetch credentials encrypted at rest with Fernet (S4, ADR 0004).

Fernet is AES-128-CBC with an HMAC-SHA256 over the whole token, so a token that was
altered, or made under a key the vault does not hold, is refused rather than decrypted
into garbage. Keys rotate without downtime: the operator puts a new key first in
`PARTNER_INGEST_VAULT_KEYS`, restarts, re-encrypts stored tokens with `rotate()`, then
drops the old key. Nothing here ever shows a key or a plaintext: not `repr()`, not an
error message, not an exception chain.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["FernetVault"]


class FernetVault:
    """A `CredentialVault` over one or more Fernet keys, newest first.

    Encrypts under the newest key; decrypts a token made under any configured key.
    """

    __slots__ = ("_count", "_keys", "_multi")

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("the credential vault needs at least one Fernet key")
        for position, key in enumerate(keys, start=1):
            try:
                valid = len(base64.urlsafe_b64decode(key)) == 32  # what Fernet(key) checks
            except (ValueError, TypeError):
                valid = False
            if not valid:
                # Raised outside the `except`, and `from None`: a cause would carry the decoding
                # error, and a log that prints chains could then show the key. Say which one, not what.
                raise ValueError(
                    f"vault key #{position} of {len(keys)} is not a Fernet key "
                    "(expected 32 bytes in url-safe base64, 44 characters; make one with "
                    "FernetVault.generate_key())"
                ) from None
        # cryptography is imported when a credential is first encrypted or decrypted, not at
        # start-up: most processes (`ingest`, `validate`) never touch one.
        self._keys = tuple(keys)
        self._multi: MultiFernet | None = None
        self._count = len(self._keys)

    @property
    def _fernet(self) -> MultiFernet:
        if self._multi is None:
            from cryptography.fernet import Fernet, MultiFernet

            self._multi = MultiFernet([Fernet(key) for key in self._keys])
        return self._multi

    @classmethod
    def from_setting(cls, text: str) -> FernetVault:
        """A vault from a setting such as `PARTNER_INGEST_VAULT_KEYS`: keys newest first,
        comma separated; blanks around keys and empty entries are ignored."""
        keys = [part.strip() for part in text.split(",") if part.strip()]
        if not keys:
            raise ValueError("the vault key setting is empty: give at least one Fernet key")
        return cls(keys)

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, in the text form the setting takes."""
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode("ascii")

    @property
    def key_count(self) -> int:
        """How many keys the vault holds (for health output; never the keys themselves)."""
        return self._count

    def encrypt(self, plaintext: str) -> str:
        """The token of `plaintext` under the newest key (url-safe base64 text)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext of a token made under any configured key; ValueError otherwise."""
        try:
            return self._open(token).decode("utf-8")
        except UnicodeDecodeError:
            # The error object would hold the decrypted bytes: never let it travel.
            raise ValueError("the credential token does not hold text") from None

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted under the newest key; ValueError when no key fits."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(self._token_bytes(token)).decode("ascii")
        except InvalidToken:
            raise self._refused() from None

    def __repr__(self) -> str:
        return f"FernetVault(keys={self._count})"

    def _open(self, token: str) -> bytes:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(self._token_bytes(token))
        except InvalidToken:
            raise self._refused() from None

    def _token_bytes(self, token: str) -> bytes:
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise self._refused() from None

    def _refused(self) -> ValueError:
        return ValueError(
            f"the credential token was made under none of the {self._count} configured vault "
            "keys, or was altered"
        )
