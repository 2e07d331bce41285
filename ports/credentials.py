"""The credential vault port: partner fetch credentials are encrypted at rest (S4)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["CredentialVault"]


class CredentialVault(Protocol):
    """Encrypts secrets before they reach storage and decrypts them only to use them.

    Implementations never show a key or a plaintext in `repr()`, a log or an error message.
    """

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext token under the newest key."""

    def decrypt(self, token: str) -> str:
        """Plaintext of a token made under any configured key; ValueError when none fits."""

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted under the newest key; ValueError when no key fits."""
