"""The plugin manager factory: built-in formats plus whatever pip packages provide.

Never a module global: each call builds a fresh manager, so tests and
embedders can load exactly the plugins they want.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from partner_ingest.ports import hookspecs

from . import csv_feed, json_feed, xml_feed
from .registry import FormatRegistry

__all__ = ["BUILTIN_PLUGINS", "build_plugin_manager", "load_formats"]

BUILTIN_PLUGINS = {
    "partner_ingest.json": json_feed,
    "partner_ingest.csv": csv_feed,
    "partner_ingest.xml": xml_feed,
}


def build_plugin_manager(
    *,
    plugins: Iterable[object] = (),
    entry_points: bool = True,
    block: Iterable[str] = (),
) -> pluggy.PluginManager:
    """Specs, blocked names, built-ins, entry points (group `partner_ingest`), extra plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in block:
        pm.set_blocked(name)
    for name, module in BUILTIN_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(module, name=name)
    if entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def load_formats(
    *,
    plugins: Iterable[object] = (),
    entry_points: bool = True,
    block: Iterable[str] = (),
) -> FormatRegistry:
    """Every feed format from every plugin, in a registry that refuses duplicates."""
    pm = build_plugin_manager(plugins=plugins, entry_points=entry_points, block=block)
    registry = FormatRegistry()
    # Each implementation is called on its own so the registry knows which plugin
    # registered what, and can name both sides of a conflict.
    for impl in pm.hook.partner_ingest_register_formats.get_hookimpls():
        impl.function(register=registry.registrar(impl.plugin_name))
    return registry
