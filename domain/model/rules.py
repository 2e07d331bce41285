"""The field rules of every feed version: the one source of the contract.

The validator (validation.py) compiles these rules into checks, and the
published JSON Schema (contract.py) is generated from the same objects, so the
server and the contract can never disagree (a property test holds them to it).
Rules a JSON Schema cannot express (decimals per currency, GTIN check digit,
sale price below price, a SKU repeated in a feed) are marked as such and
documented in the schema's descriptions.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Final

import attrs

from .currencies import MINOR_UNITS
from .product import DIMENSION_UNITS

__all__ = [
    "CONTRACT_VERSION",
    "RFC3339_DATETIME",
    "CONTRACTS",
    "FeedContract",
    "FieldRule",
    "Kind",
    "contract_for",
]

CONTRACT_VERSION: Final = "2.1.0"
"""Version of the published contract document (semver): bumped whenever a rule changes."""


class Kind(enum.StrEnum):
    """The JSON type family of a field."""

    TEXT = "text"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "datetime"
    OBJECT = "object"


# Character classes of forbidden characters, written in the common subset of
# Python and ECMA-262 regular expressions (the JSON Schema dialect).
# Surrogates and U+FFFE/U+FFFF are refused everywhere: they cannot be stored as
# UTF-8 nor written in XML, so no format could carry them back.
NOT_TEXT: Final = r"\uD800-\uDFFF\uFFFE\uFFFF"
CONTROL_CHARS: Final = r"\u0000-\u001F\u007F" + NOT_TEXT
CONTROL_CHARS_EXCEPT_WHITESPACE: Final = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F" + NOT_TEXT

RFC3339_DATETIME: Final = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
"""The syntax of an RFC 3339 date-time (section 5.6), for the validator and the schema.

The calendar (no 30 February) and the instant's range are checked by the
validator; a leap second (:60) and the year 0000 are syntax here but no
instant Python or most databases can hold, so they are refused as `range`.
"""


@attrs.frozen
class FieldRule:
    """Everything the contract says about one field."""

    name: str
    kind: Kind
    description: str
    example: object
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    """Matched against the whole value (anchors are added where needed)."""
    pattern_hint: str = ""
    """What the pattern means, in words, for error messages."""
    forbidden_chars: str | None = None
    """A regex character class (without brackets) the value must not contain."""
    choices: tuple[str, ...] | None = None
    minimum: Decimal | None = None
    exclusive_minimum: bool = False
    maximum: Decimal | None = None
    money: bool = False
    """Decimals bounded by the item's currency (ISO 4217 minor unit): not in JSON Schema."""
    gtin_checksum: bool = False
    """Last digit is a GS1 check digit: not in JSON Schema."""
    fields: tuple[FieldRule, ...] = ()
    """Members of an OBJECT field; all of them required."""
    requires: tuple[str, ...] = ()
    """Fields that must be present when this one is (JSON Schema dependentRequired)."""


SKU = FieldRule(
    "sku",
    Kind.TEXT,
    "The partner's stock keeping unit, unique within one partner's catalog.",
    example="SKU-1001",
    required=True,
    pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    pattern_hint="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
)
NAME = FieldRule(
    "name",
    Kind.TEXT,
    "Display name of the product.",
    example="Espresso machine",
    required=True,
    min_length=1,
    max_length=256,
    forbidden_chars=CONTROL_CHARS,
)
PRICE = FieldRule(
    "price",
    Kind.DECIMAL,
    "Price in `currency`, with no more decimals than the currency's ISO 4217 minor unit.",
    example=Decimal("249.90"),
    required=True,
    minimum=Decimal(0),
    maximum=Decimal("1000000000000"),
    money=True,
)
CURRENCY = FieldRule(
    "currency",
    Kind.TEXT,
    "ISO 4217 currency code of `price` and `sale_price`.",
    example="EUR",
    required=True,
    choices=tuple(sorted(MINOR_UNITS)),
)
QUANTITY = FieldRule(
    "quantity",
    Kind.INTEGER,
    "Units in stock.",
    example=12,
    required=True,
    minimum=Decimal(0),
    maximum=Decimal(1_000_000_000),
)
GTIN = FieldRule(
    "gtin",
    Kind.TEXT,
    "GTIN-8, -12, -13 or -14, digits only, with a valid GS1 check digit.",
    example="4006381333931",
    pattern=r"[0-9]{8}|[0-9]{12,14}",
    pattern_hint="8, 12, 13 or 14 digits",
    gtin_checksum=True,
)
DESCRIPTION = FieldRule(
    "description",
    Kind.TEXT,
    "Free text; line breaks and tabs allowed, other control characters not.",
    example="15 bar pump, 1.5 l water tank.",
    max_length=5000,
    forbidden_chars=CONTROL_CHARS_EXCEPT_WHITESPACE,
)
IMAGE_URL = FieldRule(
    "image_url",
    Kind.TEXT,
    "Absolute http or https URL of the main product image.",
    example="https://images.example.com/sku-1001.jpg",
    max_length=2048,
    pattern=(
        r"[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007F/?#@" + NOT_TEXT + r"]+"
        r"(?:[/?#][^\u0000-\u0020\u007F" + NOT_TEXT + r"]*)?"
    ),
    pattern_hint="an absolute http:// or https:// URL without spaces",
)
BRAND = FieldRule(
    "brand",
    Kind.TEXT,
    "Brand the product is sold under.",
    example="Rancilio",
    min_length=1,
    max_length=128,
    forbidden_chars=CONTROL_CHARS,
)
MANUFACTURER = FieldRule(
    "manufacturer",
    Kind.TEXT,
    "Company that makes the product.",
    example="Rancilio Group",
    min_length=1,
    max_length=128,
    forbidden_chars=CONTROL_CHARS,
)


def _length(name: str, example: str) -> FieldRule:
    return FieldRule(
        name,
        Kind.DECIMAL,
        f"{name.capitalize()}, in `unit`; greater than zero.",
        example=Decimal(example),
        required=True,
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=Decimal(1_000_000),
    )


DIMENSIONS = FieldRule(
    "dimensions",
    Kind.OBJECT,
    "Physical size of the product.",
    example={
        "width": Decimal("28.5"),
        "height": Decimal("37"),
        "depth": Decimal("42"),
        "unit": "cm",
    },
    fields=(
        _length("width", "28.5"),
        _length("height", "37"),
        _length("depth", "42"),
        FieldRule(
            "unit",
            Kind.TEXT,
            "Unit of the three lengths.",
            example="cm",
            required=True,
            choices=DIMENSION_UNITS,
        ),
    ),
)
SALE_PRICE = FieldRule(
    "sale_price",
    Kind.DECIMAL,
    "Flash-sale price (ADR 0016): at most `price`, same currency and decimals.",
    example=Decimal("199.00"),
    minimum=Decimal(0),
    maximum=Decimal("1000000000000"),
    money=True,
)
SALE_STARTS_AT = FieldRule(
    "sale_starts_at",
    Kind.DATETIME,
    "Start of the sale window (RFC 3339 with offset); needs `sale_price`.",
    example="2026-11-27T08:00:00Z",
    requires=("sale_price",),
)
SALE_ENDS_AT = FieldRule(
    "sale_ends_at",
    Kind.DATETIME,
    "End of the sale window (RFC 3339 with offset), after its start; needs `sale_price`.",
    example="2026-11-30T23:59:59Z",
    requires=("sale_price",),
)


@attrs.frozen
class FeedContract:
    """The rules of one feed version."""

    version: int
    fields: tuple[FieldRule, ...]
    summary: str

    def field(self, name: str) -> FieldRule | None:
        """The rule of a top-level field, or None when this version does not know it."""
        for rule in self.fields:
            if rule.name == name:
                return rule
        return None

    @property
    def field_names(self) -> frozenset[str]:
        """Names of the top-level fields of this version."""
        return frozenset(rule.name for rule in self.fields)


_V1_FIELDS: Final = (SKU, NAME, PRICE, CURRENCY, QUANTITY, GTIN, DESCRIPTION, IMAGE_URL)

CONTRACTS: Final = {
    1: FeedContract(1, _V1_FIELDS, "Flat products: identity, price, stock, GTIN, text, image."),
    2: FeedContract(
        2,
        (
            *_V1_FIELDS,
            BRAND,
            MANUFACTURER,
            DIMENSIONS,
            SALE_PRICE,
            SALE_STARTS_AT,
            SALE_ENDS_AT,
        ),
        "Version 1 plus brand, manufacturer, nested dimensions and a flash-sale window.",
    ),
}
"""Every feed version the platform understands, by number (listed in contract_versions.py too,
for what needs the numbers alone)."""


def contract_for(version: int) -> FeedContract:
    """The contract of one version; KeyError when there is none."""
    return CONTRACTS[version]
