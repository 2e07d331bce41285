"""Repeated member names and lone surrogates in decoded JSON: the checks behind the JSON reader.

A repeated name is found by counting (ADR 0027): `names_at_most` bounds the
member names in the bytes from above, `members_at_least` and `members` bound
the members decoded from below; equal bounds prove no name was dropped. Where
they differ, the exact decode uses `object_hook`, which marks the repeat.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_
from typing import Any, Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_source import UnreadableValue
from partner_ingest.domain.model.report import ErrorCode

__all__ = ["members", "members_at_least", "names_at_most", "object_hook", "objects", "refuse_lone_surrogates"]

# JSON whitespace read as a quote: then every member name ends in `":` (its quote, or the
# whitespace between it and its colon, right before the colon).
_SPACE_AS_QUOTE: Final = bytes.maketrans(b" \t\r\n", b'""""')


def object_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A decoded object, each repeated member name's value replaced by the error saying so."""
    found = dict(pairs)
    if len(found) != len(pairs):
        counts: dict[str, int] = {}
        for key, value in pairs:
            counts[key] = counts.get(key, 0) + 1
            if _lone_surrogate(value):  # checked here: the value it holds is about to go
                raise _lone_surrogate_error()
        for key, count in counts.items():
            if count > 1:
                found[key] = UnreadableValue(
                    f"appears {count} times in one object: a member name may appear once",
                    ErrorCode.DUPLICATE_KEY,
                )
    return found


def _lone_surrogate(value: object) -> bool:
    """Whether a decoded value holds a lone surrogate (`"\\ud800"`) in a string or a name."""
    if value.__class__ is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if value.__class__ is dict:
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if value.__class__ is list:
        return any(_lone_surrogate(v) for v in value)
    return False


def refuse_lone_surrogates(text: str | bytes, value: object) -> None:
    """A lone surrogate escape is not text (msgspec refuses it; no store can hold it): refuse it
    in the standard library's results too, looking only when the text has such an escape
    (a backslash first: one byte, the quickest search there is)."""
    if isinstance(text, bytes):
        if b"\\" in text and (b"\\ud" in text or b"\\uD" in text) and _lone_surrogate(value):
            raise _lone_surrogate_error()
    elif "\\" in text and ("\\ud" in text or "\\uD" in text) and _lone_surrogate(value):
        raise _lone_surrogate_error()


def _lone_surrogate_error() -> MalformedFeedError:
    return MalformedFeedError(
        ErrorCode.ENCODING, "a string escapes a lone surrogate (\\ud800-\\udfff), which is not text"
    )


def names_at_most(data: bytes) -> int:
    """At least as many as the member names in `data` (a colon right after a quote or
    whitespace ends each; text in strings can only add to the count)."""
    return data.translate(_SPACE_AS_QUOTE).count(b'":')


def members_at_least(items: list[object], nested: tuple[str, ...]) -> int:
    """At most as many as the members of `items` and their objects, counting only the
    items' own members and those of their `nested` fields: the cheap count, one pass of
    C-level maps per field rather than a Python loop over the items."""
    dicts = objects(items)
    count = sum(map(len, dicts))
    for name in nested:
        count += sum(map(len, objects(list(map(dict.get, dicts, repeat(name))))))
    return count


def objects(values: list[Any]) -> list[dict[str, object]]:
    """The values that are dicts (not a subclass: as the decoders build them), in order."""
    return list(compress(values, map(is_, map(type, values), repeat(dict))))


def members(value: object) -> int:
    """How many members the objects in `value` hold, all levels counted."""
    count = 0
    if value.__class__ is dict:
        count = len(value)
        value = value.values()
    for member in value:  # type: ignore[attr-defined]
        if member.__class__ is dict or member.__class__ is list:
            count += members(member)
    return count
