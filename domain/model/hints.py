"""How to fix a mistake: the close match a partner probably meant, and what the body looks like.

Computed on the error path only (never for a valid item or document), so the validator's
fast path pays nothing for them.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from typing import Final

__all__ = ["closest", "enum_hint", "field_hint", "looks_like"]

_LIST_AT_MOST: Final = 12
"""Allowed values are listed when there are at most this many (currencies are not: 150 codes)."""


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` most likely meant: the same but for case, or a close spelling."""
    pool = list(candidates)
    folded = word.casefold()
    for candidate in pool:
        if candidate.casefold() == folded:
            return candidate
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.75) or difflib.get_close_matches(
        folded, [c.casefold() for c in pool], n=1, cutoff=0.75
    )
    if not found:
        return None
    return next((c for c in pool if c.casefold() == found[0].casefold()), found[0])


def enum_hint(value: object, choices: Collection[str], *, what: str = "") -> str:
    """`did you mean 'EUR'?`, and the allowed values when they are few."""
    parts = []
    if isinstance(value, str):
        guess = closest(value, choices)
        if guess is not None:
            parts.append(f"did you mean {guess!r}?")
    if len(choices) <= _LIST_AT_MOST:
        parts.append("allowed: " + ", ".join(sorted(choices)))
    else:
        parts.append(f"one of {len(choices)} {what or 'allowed values'} (see the contract)")
    return " ".join(parts)


def field_hint(name: str, known: Collection[str]) -> str:
    """`did you mean 'price'?` for a misspelt field, else the fields this version knows."""
    guess = closest(name, known)
    if guess is not None:
        return f"did you mean {guess!r}?"
    return "fields of this version: " + ", ".join(sorted(known))


def looks_like(head: bytes) -> str | None:
    """What a document's first bytes look like: "JSON", "XML", "CSV" or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if text[:1] in (b"{", b"["):
        return "JSON"
    if text[:1] == b"<":
        return "XML"
    first = text.split(b"\n", 1)[0]
    if first.count(b",") or first.count(b";") or first.count(b"\t"):
        return "CSV"
    return None
