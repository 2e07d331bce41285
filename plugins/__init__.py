"""Feed formats as pluggy plugins: the built-in json, jsonl, csv and xml, and the
registry that also loads third-party formats from the `partner_ingest` entry points."""

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
