"""Row <-> domain value conversions shared by the SQLite repositories."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from partner_ingest.domain.model import jsontext

from .connection import from_timestamp, timestamp

__all__ = ["dump_json", "load_json", "opt_dt", "opt_ts"]


def opt_ts(moment: datetime | None) -> str | None:
    """Timestamp text, or None."""
    return None if moment is None else timestamp(moment)


def opt_dt(text: str | None) -> datetime | None:
    """Datetime from timestamp text, or None."""
    return None if text is None else from_timestamp(text)


def dump_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text (decimals exact)."""
    return jsontext.dumps(value)


def load_json(text: str) -> Any:  # noqa: ANN401 - JSON is any shape; callers narrow it
    """Parsed JSON text."""
    return json.loads(text)
