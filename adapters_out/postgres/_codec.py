"""Value conversions shared by the PostgreSQL repositories.

Times travel as timezone-aware datetimes (timestamptz; sessions run in UTC), so
unlike SQLite there is no timestamp text here: only JSON text, and text made
safe for a `text` column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from partner_ingest.domain.model import jsontext

__all__ = ["dump_json", "load_json", "storable_text"]


def dump_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text (decimals exact, ASCII only, so always storable)."""
    return jsontext.dumps(value)


def load_json(text: str) -> Any:  # noqa: ANN401 - JSON is any shape; callers narrow it
    """Parsed JSON text."""
    return json.loads(text)


def storable_text(text: str) -> str:
    """`text` as a PostgreSQL text value can hold it.

    PostgreSQL text refuses NUL and anything that is not UTF-8 (a lone surrogate), where SQLite
    stores both. Free text the library did not validate (an error message quoting a hostile
    feed) goes through here, so recording a failure can never fail in turn.
    """
    if text.isprintable() or ("\x00" not in text and text.isascii()):
        return text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
