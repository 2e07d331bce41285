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

__all__ = ["DELETE_FIELD", "FEED_MODES_CONTRACT", "FeedMode", "delete_flag"]

DELETE_FIELD: Final = "_delete"
"""The field by which an item asks for its SKU to be retired (the contract publishes it)."""

_TRUE_TEXT: Final = frozenset({"true", "1"})
_FALSE_TEXT: Final = frozenset({"false", "0", ""})


class FeedMode(enum.StrEnum):
    """What a feed says about the products it does not name, and the fields it leaves out."""

    UPSERT = "upsert"
    SNAPSHOT = "snapshot"
    PATCH = "patch"


FEED_MODES_CONTRACT: Final = {
    "feed_modes": {
        "upsert": "each item replaces its product; products the feed does not name are untouched (default)",
        "snapshot": "the feed is the whole catalog: active products it does not name are retired, only when "
        "the whole feed was read and not rejected; a snapshot retiring more than the mass-delete guard allows "
        "is held for an operator (import status held), and an empty snapshot never retires anything",
        "patch": "only the fields an item names change; null clears an optional field; required fields may be "
        "left out; a SKU that is not an active product is the item error unknown_sku",
    },
    "choose_with": "X-Feed-Mode header (push), feed_mode of a schedule (pull), --feed-mode (CLI); "
    "default: the partner's feed_mode",
    "delete": {
        "field": DELETE_FIELD,
        "value": True,
        "spelling": {
            "json": '{"sku": "SKU-1", "_delete": true}',
            "jsonl": '{"sku": "SKU-1", "_delete": true}',
            "csv": "a `_delete` column holding true (empty or false: not a delete)",
            "xml": "<product><sku>SKU-1</sku><_delete>true</_delete></product>",
            "plugins": "a format plugin hands the field `_delete` (true, or the text true/1) in the raw item",
        },
        "meaning": "retires the SKU in any feed mode; only sku is needed; a delete of an unknown or already "
        "retired SKU counts as unchanged; a SKU appears once per feed, a delete included",
    },
}
"""What the published contract says about modes and deletes (served with /partner/contract)."""


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
