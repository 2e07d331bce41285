"""JSON text as both engines store it: the library's own compact, exact spelling."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from partner_ingest.domain.model import jsontext

__all__ = ["dump_json", "load_json"]


def dump_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text (decimals exact, ASCII only, so storable on either engine)."""
    return jsontext.dumps(value)


def load_json(text: str) -> Any:  # noqa: ANN401 - JSON is any shape; callers narrow it
    """Parsed JSON text."""
    return json.loads(text)
