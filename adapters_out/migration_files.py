"""Numbered SQL migration files, as both SQL stores ship and apply them.

Each store keeps its own dialect in `<store>/migrations/NNNN_name.sql`; this
module finds them, checks the numbering, and words the refusal of a database
from a newer release the same way for both.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

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


class _Entry(Protocol):
    @property
    def name(self) -> str: ...

    def read_text(self, encoding: str) -> str: ...


def _entries(package: str) -> Iterable[_Entry]:
    """The files of `package`'s `migrations/` folder: read from the file system where the
    package is installed there (every pip install), through importlib.resources otherwise (a
    zip). importlib.resources imports zipfile, tempfile and shutil, which every command would
    pay for at start-up, since every start checks the schema (ADR 0042)."""
    module_file = getattr(sys.modules.get(package), "__file__", None)
    if module_file is not None:
        folder = Path(module_file).with_name("migrations")
        if folder.is_dir():
            return folder.iterdir()
    from importlib import resources

    return resources.files(package).joinpath("migrations").iterdir()


def numbered_files(package: str) -> list[MigrationFile]:
    """The migrations shipped in `package`'s `migrations/` folder, in order, numbered 1..n."""
    found = []
    for entry in _entries(package):
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(
                MigrationFile(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def refuse_newer(have: int, newest: int) -> None:
    """SchemaTooNewError when the database is past what this release knows."""
    if have > newest:
        raise SchemaTooNewError(
            f"the database schema is at version {have}, newer than this release knows ({newest}): "
            "upgrade partner-catalog-ingest, or point it at another database"
        )
