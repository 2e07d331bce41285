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
        pm.register(plugin, name=_free_name(pm, plugin))
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
    sources = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    # Each implementation is called on its own so the registry knows which plugin
    # registered what, and can name both sides of a conflict.
    for impl in pm.hook.partner_ingest_register_formats.get_hookimpls():
        label = impl.plugin_name
        dist = sources.get(id(impl.plugin))
        if dist is not None:
            label = f"{label} (entry point of {dist.project_name} {dist.version})"
        impl.function(register=registry.registrar(label))
    return registry


def _free_name(pm: pluggy.PluginManager, plugin: object) -> str:
    """A readable, unused name for a plugin object: errors name plugins by it."""
    base = getattr(plugin, "__name__", None)
    if not isinstance(base, str):
        kind = type(plugin)
        base = f"{kind.__module__}.{kind.__qualname__}"
    name, number = base, 1
    while pm.has_plugin(name):
        number += 1
        name = f"{base}#{number}"
    return name
