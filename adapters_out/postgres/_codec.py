"""Text made safe for a PostgreSQL `text` column (the dialect's `text`, ADR 0040).

Times travel as timezone-aware datetimes (timestamptz; sessions run in UTC) and JSON as the
shared text (`adapters_out/sql/_json.py`), so this is the one conversion PostgreSQL adds.
"""

from __future__ import annotations

__all__ = ["storable_text"]


def storable_text(text: str) -> str:
    """`text` as a PostgreSQL text value can hold it.

    PostgreSQL text refuses NUL and anything that is not UTF-8 (a lone surrogate), where SQLite
    stores both. Free text the library did not validate (an error message quoting a hostile
    feed) goes through here, so recording a failure can never fail in turn.
    """
    if text.isprintable() or ("\x00" not in text and text.isascii()):
        return text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
