"""JSON text with exact decimals: the standard library can only write numbers through float."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

__all__ = ["dumps"]

_encode_str = json.encoder.encode_basestring_ascii


def dumps(value: object, *, sort_keys: bool = False) -> str:
    """Compact JSON text; Decimal written digit for digit, datetime as ISO 8601.

    ASCII-only output (non-ASCII escaped), so the text is valid whatever the
    transport's charset, and lone surrogates can never make it unencodable.
    """
    parts: list[str] = []
    _write(value, parts, sort_keys)
    return "".join(parts)


def _write(value: object, out: list[str], sort_keys: bool) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no JSON form")
        out.append(str(value))
    elif isinstance(value, int | float):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, datetime):
        out.append(_encode_str(value.isoformat()))
    elif isinstance(value, Mapping):
        items = sorted(value.items()) if sort_keys else value.items()
        out.append("{")
        for position, (key, member) in enumerate(items):
            if position:
                out.append(",")
            out.append(_encode_str(str(key)))
            out.append(":")
            _write(member, out, sort_keys)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for position, member in enumerate(value):
            if position:
                out.append(",")
            _write(member, out, sort_keys)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
