"""How to fix an invalid item's errors (ADR 0005): a close field name, the allowed values, the
contract version that has the field.

Invariant: computed on the error path only, after every error of the item is found, so a
valid item pays nothing; a hint never changes an error's code, field or message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .hints import closest, enum_hint, field_hint
from .report import ErrorCode, ItemError
from .rules import CONTRACTS, FieldRule

__all__ = ["ItemHints"]


class ItemHints:
    """The hints of one contract's items: its rules by dotted field path, and its field names."""

    def __init__(self, rules: Mapping[str, FieldRule], known: Collection[str]) -> None:
        self._rules = rules
        self._known = known

    def hinted(self, errors: list[ItemError], item: Mapping[object, object]) -> list[ItemError]:
        """The errors with how to fix them, where that can be told."""
        out = []
        for error in errors:
            hint = self._hint(error, item)
            if hint is not None:
                error = ItemError(
                    error.index, error.sku, error.field, error.code, error.message, error.location, hint
                )
            out.append(error)
        return out

    def _hint(self, error: ItemError, item: Mapping[object, object]) -> str | None:
        path = error.field
        if error.code is ErrorCode.ENUM:
            rule = self._rules.get(path)
            if rule is None or not rule.choices:
                return None
            what = "ISO 4217 currency codes" if path == "currency" else "allowed values"
            return enum_hint(_value_at(item, path), rule.choices, what=what)
        if error.code is ErrorCode.UNKNOWN_FIELD:
            parent, _, name = path.rpartition(".")
            if not parent:
                elsewhere = [c.version for c in CONTRACTS.values() if path in c.field_names]
                if elsewhere:
                    return f"{path!r} is a field of contract version {elsewhere[-1]}: send X-Feed-Version: {elsewhere[-1]}"
            owner = self._rules.get(parent) if parent else None
            known = [m.name for m in owner.fields] if owner is not None else list(self._known)
            return field_hint(name or path, known)
        if error.code is ErrorCode.MISSING and "." not in path:
            for key in item:
                if isinstance(key, str) and key not in self._known and closest(key, [path]) is not None:
                    return f"the item has {key!r}: did you mean {path!r}?"
        return None


def _value_at(item: Mapping[object, object], path: str) -> object:
    """The raw value at a dotted path of an item, or None."""
    value: object = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
