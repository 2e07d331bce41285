"""The pluggy hook specifications: the whole surface a third-party plugin sees.

Project name and entry-point group: ``partner_ingest``. A plugin is a module
(or object) with functions marked by ``hookimpl`` and named like the specs below;
it ships as its own pip package with one entry point::

    [project.entry-points.partner_ingest]
    my_format = "my_package.plugin"
"""

from __future__ import annotations

from typing import Final

import pluggy

from .formats import FormatRegistrar

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec", "partner_ingest_register_formats"]

PROJECT_NAME: Final = "partner_ingest"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """Register feed formats by calling `register(feed_format)` once per (name, version)."""
