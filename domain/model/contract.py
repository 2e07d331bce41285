"""The published contract: a JSON Schema (2020-12) per feed version, made from the rules.

Generated from the same `FieldRule` objects the validator compiles, so the
document partners validate against and the server can never disagree. Rules
JSON Schema cannot express are listed under `x-rules` and in descriptions.

Patterns are written in the common subset of ECMA-262 (the JSON Schema
dialect) and Python's `re`, and each ends in `$(?!\n)`: in ECMA-262 `$` is the
end of the text, but Python's `re.search` (used by the `jsonschema` package
partners are likely to run) also lets `$` match before a final newline, which
would let "SKU-1\n" pass the schema and fail the server.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from .product import Dimensions, Product
from .rules import CONTRACT_VERSION, RFC3339_DATETIME, FeedContract, FieldRule, Kind

__all__ = ["UNEXPRESSED_RULES", "example_product", "item_schema", "json_schema"]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

UNEXPRESSED_RULES: Final = (
    "price and sale_price have no more decimals than the currency's ISO 4217 minor unit",
    "gtin ends with a valid GS1 check digit",
    "sale_price is at most price",
    "sale_ends_at is after sale_starts_at",
    "a sku appears at most once per feed (later repeats are rejected)",
    "date-times are instants from year 1 to 9999 in UTC, without a leap second (:60)",
    "a field that is null counts as absent (the schema itself does not allow null)",
)
"""What the validator checks beyond the schema; stated in the contract document."""


def _number(value: Decimal) -> int | float:
    # Schema bounds are small round numbers, exact as int or float.
    return int(value) if value == value.to_integral_value() else float(value)


def _field_schema(rule: FieldRule) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": rule.description}
    if rule.kind is Kind.TEXT:
        schema["type"] = "string"
        if rule.min_length:
            schema["minLength"] = rule.min_length
        if rule.max_length is not None:
            schema["maxLength"] = rule.max_length
        patterns = []
        if rule.pattern:
            patterns.append(_whole(rule.pattern))
        if rule.forbidden_chars:
            patterns.append(_whole(f"[^{rule.forbidden_chars}]*"))
        if len(patterns) == 1:
            schema["pattern"] = patterns[0]
        elif patterns:
            schema["allOf"] = [{"pattern": p} for p in patterns]
        if rule.choices:
            schema["enum"] = list(rule.choices)
    elif rule.kind in (Kind.DECIMAL, Kind.INTEGER):
        schema["type"] = "number" if rule.kind is Kind.DECIMAL else "integer"
        if rule.minimum is not None:
            key = "exclusiveMinimum" if rule.exclusive_minimum else "minimum"
            schema[key] = _number(rule.minimum)
        if rule.maximum is not None:
            schema["maximum"] = _number(rule.maximum)
    elif rule.kind is Kind.DATETIME:
        schema["type"] = "string"
        schema["format"] = "date-time"
        # 2020-12 treats `format` as an annotation unless a validator opts in:
        # the pattern makes the syntax binding everywhere.
        schema["pattern"] = _whole(RFC3339_DATETIME)
    elif rule.kind is Kind.OBJECT:
        schema["type"] = "object"
        schema["properties"] = {m.name: _field_schema(m) for m in rule.fields}
        schema["required"] = [m.name for m in rule.fields if m.required]
        schema["additionalProperties"] = False
    example = _json_example(rule.example)
    schema["examples"] = [example]
    return schema


def _whole(pattern: str) -> str:
    """An ECMA-262 pattern matching the whole text, in every engine (see the module docstring)."""
    return f"^(?:{pattern})$(?!\\n)"


def _json_example(value: object) -> object:
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        return {k: _json_example(v) for k, v in value.items()}
    return value


def item_schema(contract: FeedContract) -> dict[str, Any]:
    """The JSON Schema of one product item (strict mode) of a feed version."""
    dependent = {rule.name: list(rule.requires) for rule in contract.fields if rule.requires}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {rule.name: _field_schema(rule) for rule in contract.fields},
        "required": [rule.name for rule in contract.fields if rule.required],
        "additionalProperties": False,
    }
    if dependent:
        schema["dependentRequired"] = dependent
    return schema


def json_schema(contract: FeedContract) -> dict[str, Any]:
    """The JSON Schema of a whole JSON feed document of a version: {"products": [items]}."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:partner-ingest:contract:{CONTRACT_VERSION}:feed:v{contract.version}",
        "title": f"Partner catalog feed, version {contract.version}",
        "description": contract.summary,
        "type": "object",
        "properties": {"products": {"type": "array", "items": {"$ref": "#/$defs/product"}}},
        "required": ["products"],
        "$defs": {"product": item_schema(contract)},
        "x-rules": list(UNEXPRESSED_RULES),
    }


def example_product(contract: FeedContract, partner_id: str = "example-partner") -> Product:
    """A product made of every field's example value: valid under `contract` by construction."""
    values = {rule.name: rule.example for rule in contract.fields}
    dims = values.get("dimensions")
    dimensions = None
    if isinstance(dims, dict):
        dimensions = Dimensions(dims["width"], dims["height"], dims["depth"], dims["unit"])

    def moment(name: str) -> datetime | None:
        text = values.get(name)
        return None if text is None else datetime.fromisoformat(str(text))

    return Product(
        partner_id=partner_id,
        sku=str(values["sku"]),
        name=str(values["name"]),
        price=values["price"],  # type: ignore[arg-type]
        currency=str(values["currency"]),
        quantity=values["quantity"],  # type: ignore[arg-type]
        brand=values.get("brand"),  # type: ignore[arg-type]
        manufacturer=values.get("manufacturer"),  # type: ignore[arg-type]
        gtin=values.get("gtin"),  # type: ignore[arg-type]
        description=values.get("description"),  # type: ignore[arg-type]
        image_url=values.get("image_url"),  # type: ignore[arg-type]
        dimensions=dimensions,
        sale_price=values.get("sale_price"),  # type: ignore[arg-type]
        sale_starts_at=moment("sale_starts_at"),
        sale_ends_at=moment("sale_ends_at"),
    )
