"""Diagnostics: every error of every rejected item of an import, kept beyond the report's first ones.

A report carries the first errors of a feed (its cap); the diagnostics keep all
of them, each with where it is (`Location`), the offending value and the raw
item, both truncated to a bound so that a hostile feed cannot grow the store
by more than a fixed amount per error. A diagnostic is open until a later
import of the same partner accepts its SKU: that import resolves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from . import jsontext
from .report import ErrorCode, ItemError, Location

__all__ = [
    "MAX_RAW_CHARS",
    "MAX_VALUE_CHARS",
    "CodeSummary",
    "Diagnostic",
    "ItemSnapshot",
    "Rejection",
    "snapshot_of",
    "truncated",
]

MAX_VALUE_CHARS: Final = 200
"""The offending value is kept up to this many characters."""
MAX_RAW_CHARS: Final = 8192
"""The raw item is kept (as JSON text) up to this many characters; a longer one is cut and
marked `raw_truncated`, and cannot be replayed."""
_ELLIPSIS: Final = "…"


def truncated(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to `limit` characters (an ellipsis marking the cut), and whether it was cut.
    A lone surrogate (a hostile feed's) becomes U+FFFD, so every store can hold the text."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) <= limit:
        return text, False
    return text[: limit - 1] + _ELLIPSIS, True


def _text(value: object) -> str:
    """A value as the partner sent it: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return jsontext.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _value_at(raw: object, field: str) -> object:
    """The value at the dotted `field` path of a raw item; `_ABSENT` when there is none."""
    if not field:
        return _ABSENT
    current = raw
    for part in field.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _ABSENT
    return current


_ABSENT: Final = object()


@attrs.frozen
class ItemSnapshot:
    """A rejected item as kept: its raw text (bounded) and the offending value of each error."""

    raw: str | None
    raw_truncated: bool
    values: tuple[str | None, ...]
    """One per error of the item, in order: the value at the error's field, truncated."""


def snapshot_of(raw: object, errors: list[ItemError]) -> ItemSnapshot:
    """The bounded snapshot of one rejected raw item with its errors."""
    try:
        # Exact decimals and plain JSON, so that a replay reads the item back as it was sent.
        text, cut = truncated(jsontext.dumps(raw), MAX_RAW_CHARS)
    except (TypeError, ValueError, RecursionError):  # a structure JSON cannot write: keep its repr
        text, cut = truncated(repr(raw), MAX_RAW_CHARS)
    values: list[str | None] = []
    for error in errors:
        value = _value_at(raw, error.field)
        if value is _ABSENT:
            values.append(None)
        else:
            values.append(truncated(_text(value), MAX_VALUE_CHARS)[0])
    return ItemSnapshot(text, cut, tuple(values))


@attrs.frozen
class Rejection:
    """One error of one rejected item, as the pipeline hands it over (no import yet)."""

    error: ItemError
    value: str | None = None
    raw: str | None = None
    raw_truncated: bool = False


@attrs.frozen
class Diagnostic:
    """One kept error of one rejected item of one import."""

    import_id: str
    partner_id: str
    seq: int
    """Position among the import's diagnostics, from 1: the paging cursor."""
    error: ItemError
    value: str | None
    raw: str | None
    raw_truncated: bool
    recorded_at: datetime
    resolved_by: str | None = None
    """The import that accepted this SKU later, closing the diagnostic."""
    resolved_at: datetime | None = None

    @classmethod
    def of(cls, import_id: str, partner_id: str, seq: int, rejection: Rejection, at: datetime) -> Diagnostic:
        """The diagnostic an import keeps for one rejection."""
        return cls(
            import_id=import_id,
            partner_id=partner_id,
            seq=seq,
            error=rejection.error,
            value=rejection.value,
            raw=rejection.raw,
            raw_truncated=rejection.raw_truncated,
            recorded_at=at,
        )

    @property
    def code(self) -> ErrorCode:
        """The error's machine code."""
        return self.error.code

    @property
    def location(self) -> Location | None:
        """Where in the partner's document the error is."""
        return self.error.location

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form: the item error with its value, raw item and resolution."""
        out = self.error.to_json()
        out.update(
            seq=self.seq,
            import_id=self.import_id,
            value=self.value,
            raw=self.raw,
            raw_truncated=self.raw_truncated,
            recorded_at=self.recorded_at.isoformat(),
            resolved_by=self.resolved_by,
            resolved_at=None if self.resolved_at is None else self.resolved_at.isoformat(),
        )
        return out


@attrs.frozen
class CodeSummary:
    """How many errors of one code an import had, with its first few."""

    code: ErrorCode
    count: int
    examples: tuple[Diagnostic, ...]
