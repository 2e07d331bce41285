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
from pathlib import Path

import attrs

__all__ = ["ServiceSecrets", "fresh_secrets", "load_or_create"]


@attrs.frozen
class ServiceSecrets:
    """The server secrets: never logged, never shown."""

    key_hash_secret: bytes = attrs.field(repr=False)
    vault_keys: tuple[str, ...] = attrs.field(repr=False)


def fresh_secrets() -> ServiceSecrets:
    """New random secrets, kept nowhere: only for a store that dies with the process too
    (`bootstrap.in_memory`), since API keys hashed under them stop working without them.

    Drawn from `os.urandom`, the source `secrets.token_bytes` reads: this module is imported
    by every command, and `secrets` would bring OpenSSL (hashlib) with it."""
    return ServiceSecrets(os.urandom(32), (base64.urlsafe_b64encode(os.urandom(32)).decode(),))


def load_or_create(path: Path) -> ServiceSecrets:
    """Read the secrets file, creating it (mode 0600) with fresh secrets when absent.

    Written whole under another name, then linked into place: two processes starting
    at once on one database both end up reading the same, complete file.
    """
    if not path.exists():
        new = fresh_secrets()
        data = {
            "key_hash_secret": base64.urlsafe_b64encode(new.key_hash_secret).decode(),
            "vault_keys": list(new.vault_keys),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=2)
            os.link(draft, path)
        except FileExistsError:
            pass  # another process created it first: theirs is the one everybody reads
        finally:
            draft.unlink(missing_ok=True)
    data = json.loads(path.read_text())
    return ServiceSecrets(
        key_hash_secret=base64.urlsafe_b64decode(data["key_hash_secret"]),
        vault_keys=tuple(data["vault_keys"]),
    )
