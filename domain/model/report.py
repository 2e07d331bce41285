"""What a partner gets back for a feed: item errors, feed errors and the ingest report."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "ErrorCode",
    "FeedError",
    "FeedStatus",
    "IngestCounts",
    "IngestReport",
    "ItemError",
    "Location",
]


class ErrorCode(enum.StrEnum):
    """Stable machine codes; partners branch on these, so they never change meaning."""

    # item level: one field of one item
    MISSING = "missing"
    TYPE = "type"
    FORMAT = "format"
    LENGTH = "length"
    RANGE = "range"
    PRECISION = "precision"
    CHECKSUM = "checksum"
    ENUM = "enum"
    UNKNOWN_FIELD = "unknown_field"
    DUPLICATE = "duplicate"
    DUPLICATE_KEY = "duplicate_key"
    RELATION = "relation"
    UNKNOWN_SKU = "unknown_sku"
    """A patch names a SKU that is not an active product of the partner."""
    # feed level: the document as a whole
    MALFORMED = "malformed"
    ENCODING = "encoding"
    FORBIDDEN_MARKUP = "forbidden_markup"
    TOO_DEEP = "too_deep"
    TOO_MANY_ITEMS = "too_many_items"
    ITEM_TOO_LARGE = "item_too_large"
    FIELD_TOO_LARGE = "field_too_large"
    NUMBER_TOO_LONG = "number_too_long"
    ERROR_BUDGET = "error_budget_exceeded"
    ATOMIC_REJECTED = "atomic_rejected"
    MISSING_SETTING = "missing_setting"
    MISSING_COLUMN = "missing_column"
    """A delimited feed's header lacks a required field's column (said once, not once per row)."""
    SNAPSHOT_NOT_KEPT = "snapshot_not_kept"


@attrs.frozen
class Location:
    """Where in the partner's document a problem is, so they can jump to it.

    JSON feeds give a JSON Pointer (`/products/17/price`) and the byte offset
    where the item starts, XML feeds an element path (`/catalog/product[18]/price`),
    CSV and JSON Lines feeds a line and a column (1-based). A syntax error in a JSON
    document has all three of line, column and offset.

    What the numbers count, everywhere: `line` is a physical line of the document as an
    editor shows it (1-based; a CSV row whose quoted cell spans lines is located at the
    line it starts on); in CSV `column` is the cell (1-based, the header's position of
    the field), in JSON and JSON Lines it is the byte within the line (1-based; the
    character for ASCII text); `offset` is the byte from the start of the document
    (0-based, after any byte-order mark is counted).
    """

    pointer: str | None = None
    line: int | None = None
    column: int | None = None
    offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The non-empty parts, for reports and HTTP answers."""
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


@attrs.frozen
class ItemError:
    """One violation of the contract by one item; an item may have several."""

    index: int
    """Position of the item in the feed, from 0."""
    sku: str | None
    field: str
    """Dotted path of the field (`dimensions.width`); empty for the item as a whole."""
    code: ErrorCode
    message: str
    location: Location | None = None
    hint: str | None = None
    """How to fix it, where the validator can tell (a close field name or value, the allowed values)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form, the shape documented in the contract."""
        out: dict[str, Any] = {
            "index": self.index,
            "sku": self.sku,
            "field": self.field,
            "code": str(self.code),
            "message": self.message,
        }
        if self.location is not None:
            out["location"] = self.location.to_json()
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemError:
        """Inverse of `to_json` (reports are stored as JSON)."""
        loc = data.get("location")
        return cls(
            index=data["index"],
            sku=data.get("sku"),
            field=data["field"],
            code=ErrorCode(data["code"]),
            message=data["message"],
            location=None if loc is None else Location(**loc),
            hint=data.get("hint"),
        )


@attrs.frozen
class FeedError:
    """A problem with the feed as a whole: nothing of it was applied."""

    code: ErrorCode
    message: str
    location: Location | None = None
    hint: str | None = None
    """How to fix it, where the reader can tell (the delimiter it looks like, the format the body is)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        out: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.location is not None:
            out["location"] = self.location.to_json()
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeedError:
        """Inverse of `to_json`."""
        loc = data.get("location")
        return cls(
            ErrorCode(data["code"]),
            data["message"],
            None if loc is None else Location(**loc),
            data.get("hint"),
        )


class FeedStatus(enum.StrEnum):
    """Outcome of a feed."""

    ACCEPTED = "accepted"
    """Every item landed."""
    PARTIAL = "partial"
    """Valid items landed; the rejected ones are reported."""
    REJECTED = "rejected"
    """Nothing landed: a feed error, an atomic feed with an invalid item, or the error budget."""
    HELD = "held"
    """Nothing landed yet: a snapshot that would retire more than the mass-delete guard allows
    waits for an operator to release or discard it; the counts say what it would do."""


@attrs.frozen
class IngestCounts:
    """How the items of a feed were handled. received = created + updated + unchanged +
    deleted + rejected when the feed was applied; when it was rejected as a whole nothing was
    written. `retired` counts products a snapshot retired for being absent (not items)."""

    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    """Items that asked for a delete (`_delete`) and retired an active product; a delete of an
    unknown or already retired SKU counts as unchanged."""
    retired: int = 0
    """Active products a snapshot did not name, retired with it (or held: see ImportStatus)."""

    def to_json(self) -> dict[str, int]:
        """Plain JSON form (spelt out: `attrs.asdict` cost more than the rest of a report)."""
        return {
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "deleted": self.deleted,
            "retired": self.retired,
        }


@attrs.frozen
class IngestReport:
    """The answer to one feed: counts, the first item errors, and the feed error if any."""

    feed_id: str
    partner_id: str
    format: str
    version: int
    status: FeedStatus
    counts: IngestCounts
    errors: tuple[ItemError, ...] = ()
    """The first `errors_cap` item errors, in feed order."""
    errors_total: int = 0
    """How many item errors there were in all (errors may be capped)."""
    feed_error: FeedError | None = None
    dry_run: bool = False
    warnings: tuple[str, ...] = ()
    """What the partner should change though nothing was refused for it (a deprecated version)."""

    @property
    def applied(self) -> bool:
        """True when at least one item was written (or would have been, in a dry run)."""
        return self.status is FeedStatus.ACCEPTED or self.status is FeedStatus.PARTIAL

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form: what HTTP answers and what the ledger stores."""
        return {
            "feed_id": self.feed_id,
            "partner_id": self.partner_id,
            "format": self.format,
            "version": self.version,
            "status": str(self.status),
            "dry_run": self.dry_run,
            "counts": self.counts.to_json(),
            "errors": [e.to_json() for e in self.errors],
            "errors_total": self.errors_total,
            "errors_truncated": self.errors_total > len(self.errors),
            "feed_error": None if self.feed_error is None else self.feed_error.to_json(),
        } | ({"warnings": list(self.warnings)} if self.warnings else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IngestReport:
        """Inverse of `to_json`."""
        fe = data.get("feed_error")
        return cls(
            feed_id=data["feed_id"],
            partner_id=data["partner_id"],
            format=data["format"],
            version=data["version"],
            status=FeedStatus(data["status"]),
            counts=IngestCounts(**data["counts"]),
            errors=tuple(ItemError.from_json(e) for e in data["errors"]),
            errors_total=data["errors_total"],
            feed_error=None if fe is None else FeedError.from_json(fe),
            dry_run=data.get("dry_run", False),
            warnings=tuple(data.get("warnings", ())),
        )
