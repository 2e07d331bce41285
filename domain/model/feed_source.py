"""What a feed format and the core say to each other beyond bytes and plain values.

A format written for a document nobody here designed (a Merchant Center feed, a
Shopify export) needs three things the built-in formats do not:

- `FeedContext`: the partner's settings that stand in for what such a document
  leaves out (Shopify's export carries no currency). The core hands it to a
  format that asks for it (`PartnerAwareFormat` in ports/formats.py) once per feed.
- `UnreadableValue`: put in an item in place of a value the format could not read
  in its own notation ("15 dollars" where Merchant Center wants "15.00 USD"); the
  validator reports it as that field's error, with the format's own words.
- `FormatMapping`: which source attribute becomes which canonical field, and what
  is not carried, published in the contract so a partner's tools can see it.
"""

from __future__ import annotations

from typing import Any

import attrs

from .partner import Partner
from .report import ErrorCode

__all__ = ["FeedContext", "FormatMapping", "MappedAttribute", "UnreadableValue"]


@attrs.frozen
class FeedContext:
    """The settings of the partner whose feed is read, for formats that need them."""

    partner_id: str
    currency: str | None = None
    """ISO 4217 code for amounts the document gives without one."""

    @classmethod
    def of(cls, partner: Partner) -> FeedContext:
        """The context of a stored partner."""
        return cls(partner_id=partner.id, currency=partner.currency)


@attrs.frozen
class UnreadableValue:
    """A value a format found but could not read; the validator reports `message` for its field.

    Only formats make these, and only in place of a field's value: strict or
    lenient, the item is rejected with this error, which a generic message such as
    "is not a decimal number" could not explain.
    """

    message: str
    code: ErrorCode = ErrorCode.FORMAT


@attrs.frozen
class MappedAttribute:
    """One attribute (column, element) of a foreign document and where it goes."""

    source: str
    fields: tuple[str, ...]
    """Canonical fields it fills (dotted for nested ones); empty when it is not carried."""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form, as published in the contract."""
        return {"source": self.source, "fields": list(self.fields), "note": self.note}


@attrs.frozen
class FormatMapping:
    """How a foreign format's documents become canonical products."""

    specification: str
    """The public document the format follows."""
    attributes: tuple[MappedAttribute, ...]
    unmapped: str
    """What happens to every other attribute."""
    settings: tuple[str, ...] = ()
    """Partner settings its feeds need (`currency`)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form, as published in the contract."""
        return {
            "specification": self.specification,
            "attributes": [a.to_json() for a in self.attributes],
            "unmapped": self.unmapped,
            "partner_settings": list(self.settings),
        }

    @property
    def carried(self) -> tuple[MappedAttribute, ...]:
        """The attributes that fill a canonical field."""
        return tuple(a for a in self.attributes if a.fields)

    @property
    def not_carried(self) -> tuple[MappedAttribute, ...]:
        """The attributes named here that fill none (documented, not silently dropped)."""
        return tuple(a for a in self.attributes if not a.fields)
