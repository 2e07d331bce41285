"""Part of the composition root: a parser helper started before the rest of it is imported.

A CLI ingest of a large file waits for its parser helper, which imports the library in a
process of its own. Started from `bootstrap.build`, it begins after this process has
imported the composition root; started from here, with nothing but the settings and
`adapters_out/parser_spawn.py` (the standard library's process handling) imported, it
begins first, and `build(start_parser=...)` adopts it (ADR 0039).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partner_ingest.adapters_out.parser_spawn import SpawnedProcess

    from .settings import Settings

__all__ = ["start_parser_for"]


def start_parser_for(settings: Settings, path: Path) -> SpawnedProcess | None:
    """A helper process started now when `path` is a file large enough to be parsed by one
    and the settings allow helpers; None otherwise (or when it cannot start: the feed's
    first chunk tries again, and says why)."""
    if settings.parser_processes == 0:
        return None
    try:
        if not path.is_file() or path.stat().st_size < settings.parser_min_bytes:
            return None
    except OSError:  # reported when the ingest opens it
        return None
    from partner_ingest.adapters_out.parser_spawn import spawn

    try:
        return spawn()
    except OSError:
        return None
