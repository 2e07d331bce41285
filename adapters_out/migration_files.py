"""Numbered SQL migration files, as both SQL stores ship and apply them.

Each store keeps its own dialect in `<store>/migrations/NNNN_name.sql`; this
module finds them, checks the numbering, and words the refusal of a database
from a newer release the same way for both.
"""

from __future__ import annotations

import re
from importlib import resources

import attrs

from .store_errors import SchemaTooNewError

__all__ = ["MigrationFile", "numbered_files", "refuse_newer"]

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@attrs.frozen
class MigrationFile:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def numbered_files(package: str) -> list[MigrationFile]:
    """The migrations shipped in `package`'s `migrations/` folder, in order (distinct numbers from 1 up)."""
    folder = resources.files(package).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(
                MigrationFile(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    # Numbers are reserved per feature before the features land, so a release may skip one
    # that another feature holds; two files of one number would be applied in no defined order.
    if len(set(versions)) != len(versions) or any(v < 1 for v in versions):
        raise RuntimeError(f"migrations must have distinct numbers from 1 up, found {versions}")
    return found


def refuse_newer(have: int, newest: int) -> None:
    """SchemaTooNewError when the database is past what this release knows."""
    if have > newest:
        raise SchemaTooNewError(
            f"the database schema is at version {have}, newer than this release knows ({newest}): "
            "upgrade partner-catalog-ingest, or point it at another database"
        )
