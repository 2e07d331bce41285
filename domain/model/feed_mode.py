"""How a feed relates to the partner's catalog (ADR 0036), and how an item asks to be deleted.

- `upsert`: each item replaces its product; SKUs not in the feed are untouched.
- `snapshot`: the feed is the partner's whole catalog; active SKUs absent from
  it are retired, only when the whole feed was read and applied, and behind
  the mass-delete guard.
- `patch`: only the fields an item carries change; `null` clears an optional
  field; the SKU must name an existing product.

In every mode an item carrying `"_delete": true` (the same field name in every
format: a JSON member, a CSV column, an XML child element) retires its SKU.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["DELETE_FIELD", "FeedMode", "delete_flag"]

DELETE_FIELD: Final = "_delete"
"""The field by which an item asks for its SKU to be retired (the contract publishes it)."""

_TRUE_TEXT: Final = frozenset({"true", "1"})
_FALSE_TEXT: Final = frozenset({"false", "0", ""})


class FeedMode(enum.StrEnum):
    """What a feed says about the products it does not name, and the fields it leaves out."""

    UPSERT = "upsert"
    SNAPSHOT = "snapshot"
    PATCH = "patch"


def delete_flag(value: object) -> bool | None:
    """Whether a `_delete` value asks for a delete: JSON `true`/`false`, or the text
    `true`/`false`/`1`/`0` (CSV and XML carry text); None for anything else (an item error)."""
    if value is True or value is False:
        return value
    if value is None:
        return False
    if value.__class__ is str:
        text = value.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
    return None
