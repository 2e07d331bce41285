"""The audit trail's hash chain: each entry's hash covers its content and the previous entry's hash.

One definition for every store (ADR 0028). The content is the entry as stored:
its time as fixed-width UTC text, its texts, and its details as the JSON text the
store holds, each length-prefixed so that no choice of separators inside a value
can make two different entries read the same. A link's hash is
`sha256(previous_hash + "\\n" + content)` in hex; the first entry's previous hash
is `GENESIS`. Editing an entry breaks its own hash; removing one breaks the next
entry's link to its predecessor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import attrs

from .audit import AuditEntry
from .jsontext import dumps

__all__ = [
    "GENESIS",
    "AuditLink",
    "ChainBreak",
    "ChainVerdict",
    "ChainWalk",
    "content_of",
    "content_of_entry",
    "link_hash",
    "time_text",
    "verify_links",
]

GENESIS: Final = "0" * 64
"""The previous hash of the first entry."""

_TIME: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def time_text(at: datetime) -> str:
    """An entry's time as the chain covers it: fixed-width UTC text with microseconds
    (exactly the text the SQLite store keeps, so it hashes its rows without parsing them)."""
    return at.astimezone(UTC).strftime(_TIME)


def content_of(
    at: str,
    action: str,
    outcome: str,
    actor: str,
    partner_id: str | None,
    client: str | None,
    details_json: str,
) -> str:
    """The canonical content of one entry, from the values a store holds (`at`: `time_text`)."""
    fields = (at, action, outcome, actor, partner_id, client, details_json)
    return "|".join(_field(value) for value in fields)


def content_of_entry(entry: AuditEntry) -> str:
    """The canonical content of an entry whose details are stored as `jsontext.dumps` writes them."""
    return content_of(
        time_text(entry.at),
        str(entry.action),
        str(entry.outcome),
        entry.actor,
        entry.partner_id,
        entry.client,
        dumps(dict(entry.details)),
    )


def link_hash(previous_hash: str, content: str) -> str:
    """The hash of an entry with this content after the entry whose hash is `previous_hash`."""
    # surrogatepass: SQLite stores a lone surrogate an actor header may carry; hashing must not fail on it.
    data = f"{previous_hash}\n{content}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class AuditLink:
    """One stored entry as the chain sees it."""

    entry_id: int
    previous_hash: str | None
    hash: str | None
    content: str
    """`content_of` the stored values, recomputed by the store that read them."""


@attrs.frozen
class ChainBreak:
    """The first entry whose link does not hold, and what is wrong with it."""

    entry_id: int
    problem: str


@attrs.frozen
class ChainVerdict:
    """The result of walking the chain from its first entry."""

    entries: int
    """Entries verified (up to, not including, the first break)."""
    last_id: int | None
    last_hash: str
    first_break: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.first_break is None


@attrs.frozen
class ChainWalk:
    """Where a walk over several batches stands: the verdict so far."""

    verdict: ChainVerdict = ChainVerdict(entries=0, last_id=None, last_hash=GENESIS)

    def then(self, links: Iterable[AuditLink]) -> ChainWalk:
        """The walk after these links (in id order, following the ones already seen)."""
        verdict = self.verdict
        if not verdict.ok:
            return self
        count, last_id, last_hash = verdict.entries, verdict.last_id, verdict.last_hash
        for link in links:
            problem = _problem(link, last_id, last_hash)
            if problem is not None:
                return ChainWalk(ChainVerdict(count, last_id, last_hash, ChainBreak(link.entry_id, problem)))
            count, last_id, last_hash = count + 1, link.entry_id, link.hash or ""
        return ChainWalk(ChainVerdict(count, last_id, last_hash))


def _problem(link: AuditLink, last_id: int | None, last_hash: str) -> str | None:
    if link.hash is None or link.previous_hash is None:
        return "not chained: the entry has no hash (written around the audit log, or before migration 0007)"
    if link.previous_hash != last_hash:
        before = "the start of the trail" if last_id is None else f"entry {last_id}"
        return (
            f"link broken: its previous hash does not match {before}"
            " (an entry before it was removed, inserted or rewritten)"
        )
    if link_hash(link.previous_hash, link.content) != link.hash:
        return "content altered: the entry no longer matches its hash"
    return None


def verify_links(links: Iterable[AuditLink]) -> ChainVerdict:
    """Walk a whole chain at once (see `ChainWalk` for one read in batches)."""
    return ChainWalk().then(links).verdict
