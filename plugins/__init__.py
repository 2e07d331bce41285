"""Feed formats as pluggy plugins: the built-in json, jsonl, csv and xml, and the
registry that also loads third-party formats from the `partner_ingest` entry points.

The names below are imported from their modules when first used (PEP 562), not when the
package is: a parser helper that unpickles a JSON feed's reading imports `json_feed`, not
every built-in format and the plugin manager (ADR 0042). `from partner_ingest.plugins import X`
works as before; type checkers and the import contracts read the imports under TYPE_CHECKING.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_ingest.domain.lazy_names import on_first_access

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
    "BUILTIN_PLUGINS": "manager",
    "build_plugin_manager": "manager",
    "load_formats": "manager",
    "DuplicateFormatError": "registry",
    "FormatRegistry": "registry",
    "InvalidFormatError": "registry",
    "media_type_of": "registry",
}
"""Each public name and the module that holds it."""


__getattr__ = on_first_access(__name__, _MODULE_OF, globals())
