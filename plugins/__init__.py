"""Feed formats as pluggy plugins: the built-in json, jsonl, csv and xml, and the
registry that also loads third-party formats from the `partner_ingest` entry points.

The names below are imported from their modules when first used (PEP 562), not when the
package is: a parser helper that unpickles a JSON feed's reading imports `json_feed`, not
every built-in format and the plugin manager (ADR 0042). `from partner_ingest.plugins import X`
works as before; type checkers and the import contracts read the imports under TYPE_CHECKING.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from partner_ingest.ports.hookspecs import hookimpl

    from .manager import BUILTIN_PLUGINS, build_plugin_manager, load_formats
    from .registry import DuplicateFormatError, FormatRegistry, InvalidFormatError, media_type_of

__all__ = [
    "BUILTIN_PLUGINS",
    "DuplicateFormatError",
    "FormatRegistry",
    "InvalidFormatError",
    "build_plugin_manager",
    "hookimpl",
    "load_formats",
    "media_type_of",
]

_MODULE_OF: dict[str, str] = {
    "hookimpl": "partner_ingest.ports.hookspecs",
    "BUILTIN_PLUGINS": f"{__name__}.manager",
    "build_plugin_manager": f"{__name__}.manager",
    "load_formats": f"{__name__}.manager",
    "DuplicateFormatError": f"{__name__}.registry",
    "FormatRegistry": f"{__name__}.registry",
    "InvalidFormatError": f"{__name__}.registry",
    "media_type_of": f"{__name__}.registry",
}
"""Each public name and the module that holds it."""


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever class, function or marker the name is
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
