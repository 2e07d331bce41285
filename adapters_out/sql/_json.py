"""JSON text as both engines store it: the library's own compact, exact spelling."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from partner_ingest.domain.model import jsontext

__all__ = ["dump_json", "load_json"]


_encoder = json.JSONEncoder(
    ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=lambda value: _fallback(value)
)
_c_encode: Callable[[object, int], tuple[str, ...]] | None = (
    None
    if c_make_encoder is None
    # `_encoder`'s own C encoder, made once: `JSONEncoder.encode` makes it again, with its
    # Python-level setup, for every document (three a feed the writer records). Without the
    # circular-reference markers: every document is a tree the library has just built.
    else c_make_encoder(None, _encoder.default, encode_basestring_ascii, None, ":", ",", False, False, False)
)


class _NeedsExactWriter(Exception):
    """A value the standard encoder cannot write as `jsontext` would (a Decimal, a Mapping
    that is not a dict): the whole document is written by `jsontext` instead."""


def _fallback(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise _NeedsExactWriter


def dump_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text (decimals exact, ASCII only, so storable on either engine).

    The text `jsontext.dumps` writes, by the standard library's C encoder when the document
    holds nothing it would write otherwise (no Decimal, no Mapping that is not a dict): a
    ledger entry and an audit entry per feed went through the pure-Python writer, a few per
    cent of a small feed's CPU. Keys are strings (the type says so), which both write alike.
    """
    try:
        if _c_encode is None:  # pragma: no cover - a Python without the json module's C part
            return _encoder.encode(value)
        return "".join(_c_encode(value, 0))
    except _NeedsExactWriter:
        return jsontext.dumps(value)


def load_json(text: str) -> Any:  # noqa: ANN401 - JSON is any shape; callers narrow it
    """Parsed JSON text."""
    return json.loads(text)
