"""Secrets of the embedded default, generated on first start into a file only the owner reads.

A single-machine deployment should not need an operator to invent secrets
before it can start; a multi-instance one (PostgreSQL) must share them, so
there they are required settings instead. The file lives beside the SQLite
database but is not in it: a copied database alone does not carry the key
that hashes API keys.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import attrs

__all__ = ["ServiceSecrets", "load_or_create"]


@attrs.frozen
class ServiceSecrets:
    """The server secrets: never logged, never shown."""

    key_hash_secret: bytes = attrs.field(repr=False)
    vault_keys: tuple[str, ...] = attrs.field(repr=False)


def load_or_create(path: Path) -> ServiceSecrets:
    """Read the secrets file, creating it (mode 0600) with fresh secrets when absent."""
    if not path.exists():
        data = {
            "key_hash_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "vault_keys": [base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
    data = json.loads(path.read_text())
    return ServiceSecrets(
        key_hash_secret=base64.urlsafe_b64decode(data["key_hash_secret"]),
        vault_keys=tuple(data["vault_keys"]),
    )
