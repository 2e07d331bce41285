"""Property (c): the published JSON Schema and the validator agree.

- Schema to server: instances generated from `item_schema` (hypothesis-jsonschema)
  that also meet the documented rules beyond the schema (`UNEXPRESSED_RULES`:
  precision per currency, GTIN check digit, sale price and window) pass strict
  validation. The generated instances are fixed up to meet those rules.
- Server to schema: an item the validator rejects for a rule the schema can
  express (missing, type, format, length, range, enum, unknown_field) fails the
  schema too, checked with jsonschema's Draft 2020-12 validator, date-time
  format asserted. A date-time `range` error is a documented rule beyond the
  schema (years 1-9999 in UTC, no leap second) and is left out.
- And the other way round: an item the validator accepts is valid under the
  schema once its null fields are dropped (the server reads null as absent;
  the schema, documented as the stricter side, has no nulls).

Items travel as JSON text through the JSON feed format, the way partners send
them, and the schema sees exactly what the validator saw (numbers as Decimal).
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from functools import cache
from typing import Any, Protocol

import jsonschema
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from strategies import PARTNER, broken_items, junk_items, raw_items, with_gtin_check_digit
from support.examples import examples

from partner_ingest.domain.model import (
    ErrorCode,
    FeedLimits,
    ItemValidator,
    MalformedFeedError,
    Mode,
    contract_for,
    item_schema,
    json_schema,
    jsontext,
)
from partner_ingest.domain.model.contract import UNEXPRESSED_RULES
from partner_ingest.domain.model.currencies import quantum
from partner_ingest.domain.model.rules import Kind
from partner_ingest.plugins.json_feed import JsonFeed

SCHEMA_EXPRESSIBLE = {
    ErrorCode.MISSING,
    ErrorCode.TYPE,
    ErrorCode.FORMAT,
    ErrorCode.LENGTH,
    ErrorCode.RANGE,
    ErrorCode.ENUM,
    ErrorCode.UNKNOWN_FIELD,
}

# --- an RFC 3339 date-time check of our own, for jsonschema's format assertion --------
# (jsonschema only checks date-time with the optional rfc3339-validator package, and a
# check written from the RFC keeps this test from agreeing with the validator by copying it)

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)


def is_rfc3339_date_time(instance: object) -> bool:
    """RFC 3339 section 5.6 `date-time`, with the calendar of 5.7 (leap seconds allowed)."""
    if not isinstance(instance, str):
        return True
    found = _DATE_TIME.fullmatch(instance)
    if found is None:
        return False
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    offset_hour, offset_minute = (int(found.group(i) or 0) for i in (7, 8))
    if not 1 <= month <= 12:
        return False
    days = calendar.monthrange(year or 2000, month)[1]  # year 0 is a leap year, like 2000
    return (
        1 <= day <= days
        and hour <= 23
        and minute <= 59
        and second <= 60
        and offset_hour <= 23
        and offset_minute <= 59
    )


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(is_rfc3339_date_time)


def _is_integer(checker: object, instance: object) -> bool:
    # JSON Schema: an integer is a number with a zero fractional part (5.0 is one).
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


def _is_number(checker: object, instance: object) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int | float) or (isinstance(instance, Decimal) and instance.is_finite())


_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"integer": _is_integer, "number": _is_number}
)
_Draft = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


class SchemaValidator(Protocol):
    """A Draft 2020-12 validator whose numbers include Decimal (`_TYPES`): it takes items
    exactly as the feed formats read them, which the stubs' JSON type does not spell."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[jsonschema.ValidationError]: ...


@cache
def schema_validator(version: int) -> SchemaValidator:
    schema = json_schema(contract_for(version))
    jsonschema.Draft202012Validator.check_schema(schema)
    item = {**schema["$defs"]["product"], "$schema": schema["$schema"]}
    validator: SchemaValidator = _Draft(item, format_checker=_FORMATS)
    return validator


@cache
def server(version: int) -> ItemValidator:
    return ItemValidator(contract_for(version), Mode.STRICT, textual=False, partner_id=PARTNER)


def through_json(item: object, version: int) -> object:
    """The item written as JSON text, read back by the JSON feed format (as the server reads it)."""
    try:
        text = jsontext.dumps({"products": [item]})
    except (ValueError, TypeError):  # NaN, a set: no JSON text carries it
        assume(False)
    try:
        [(parsed, _)] = JsonFeed(version).parse(io.BytesIO(text.encode()), FeedLimits())
    except MalformedFeedError:  # e.g. a number over max_number_chars: a feed error, not an item
        assume(False)
    return parsed


# --- schema -> server ------------------------------------------------------------------


def instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Instances of `schema`, each value drawn by hypothesis-jsonschema from its own schema.

    Objects are put together here: hypothesis-jsonschema 0.23.1 (the latest) draws
    objects through a Hypothesis internal (`cu.many(...).more()`) that Hypothesis
    6.170 no longer has, so `from_schema` fails on any object schema. Our item
    schemas use only properties, required, additionalProperties: false and
    dependentRequired, which this covers exactly.
    """
    if schema.get("type") != "object":
        return from_schema(schema)
    properties = {name: instances(member) for name, member in schema["properties"].items()}
    required = set(schema.get("required", ()))
    depends: dict[str, list[str]] = schema.get("dependentRequired", {})
    assert schema.get("additionalProperties") is False

    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        out = draw(
            st.fixed_dictionaries(
                {name: properties[name] for name in sorted(required)},
                optional={name: properties[name] for name in sorted(properties.keys() - required)},
            )
        )
        for name, needed in depends.items():
            for other in needed if name in out else ():
                if other not in out:
                    out[other] = draw(properties[other])
        return out

    return objects()


_INSTANCES = {version: instances(item_schema(contract_for(version))) for version in (1, 2)}


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except OverflowError:
        return None


def meet_rules_beyond_schema(item: dict[str, Any]) -> dict[str, Any]:
    """Change an instance valid under the schema just enough to meet UNEXPRESSED_RULES."""
    step = quantum(item["currency"])
    item["price"] = Decimal(item["price"]).quantize(step, ROUND_DOWN)
    if "sale_price" in item:
        item["sale_price"] = min(Decimal(item["sale_price"]).quantize(step, ROUND_DOWN), item["price"])
    if "gtin" in item:
        item["gtin"] = with_gtin_check_digit(item["gtin"][:-1])
    moments = {name: _instant(item[name]) for name in ("sale_starts_at", "sale_ends_at") if name in item}
    assume(None not in moments.values())  # an instant past year 9999 in UTC (a documented rule)
    if len(moments) == 2 and moments["sale_starts_at"] >= moments["sale_ends_at"]:  # type: ignore[operator]
        if moments["sale_starts_at"] == moments["sale_ends_at"]:
            del item["sale_ends_at"]
        else:
            item["sale_starts_at"], item["sale_ends_at"] = item["sale_ends_at"], item["sale_starts_at"]
    return item


@pytest.mark.parametrize("version", [1, 2])
@settings(max_examples=examples(60))
@given(data=st.data())
def test_an_instance_of_the_schema_is_accepted_by_the_server(version: int, data: st.DataObject) -> None:
    instance = data.draw(_INSTANCES[version], label="instance")
    item = through_json(instance, version)
    assert isinstance(item, dict)
    item = meet_rules_beyond_schema(item)
    assert schema_validator(version).is_valid(item), "the fix-ups must keep the instance valid"
    result = server(version).validate(item, 0)
    assert isinstance(result, tuple), f"valid under the schema, refused by the server: {result}"


# --- server -> schema ------------------------------------------------------------------

_DATETIME_FIELDS = {rule.name for rule in contract_for(2).fields if rule.kind is Kind.DATETIME}


def assert_agree(raw: Any, version: int) -> None:
    item = through_json(raw, version)
    result = server(version).validate(item, 0)
    schema = schema_validator(version)
    if isinstance(result, tuple):
        assert isinstance(item, dict)
        present = {k: v for k, v in item.items() if v is not None}
        errors = [e.message for e in schema.iter_errors(present)]
        assert not errors, f"accepted by the server, refused by the schema: {errors}"
        return
    expressible = [
        e
        for e in result
        if e.code in SCHEMA_EXPRESSIBLE and not (e.code is ErrorCode.RANGE and e.field in _DATETIME_FIELDS)
    ]
    if expressible:
        assert not schema.is_valid(item), (
            f"refused by the server for {expressible}, valid under the schema: {item!r}"
        )


@pytest.mark.parametrize("version", [1, 2])
@given(data=st.data())
@example(data=None)
def test_what_the_server_refuses_for_a_schema_rule_the_schema_refuses(
    version: int, data: st.DataObject | None
) -> None:
    if data is None:  # the cases that once disagreed
        base = {"sku": "A-1", "name": "n", "price": Decimal("1.00"), "currency": "EUR", "quantity": 1}
        for extra in (
            {"sku": "A-1\n"},
            {"name": "Mug\n"},
            {"gtin": "12345670\n"},
            {"sale_price": Decimal(1), "sale_starts_at": "2026-11-27 08:00:00Z"},
            {"sale_price": Decimal(1), "sale_starts_at": "2026-11-27T08:00:00+00:60"},
            {"sale_price": Decimal(1), "sale_starts_at": "2026-02-29T08:00:00Z"},
            {"sale_price": Decimal(1), "sale_starts_at": "2026-11-27T08:00:00.1234567891Z"},
            {"quantity": Decimal("5.0")},
            {"quantity": Decimal("5.5")},
        ):
            assert_agree({**base, **extra}, version)
        return
    raw = data.draw(broken_items(version) | junk_items(version) | raw_items(version), label="item")
    assert_agree(raw, version)


def test_the_rules_beyond_the_schema_are_published() -> None:
    schema = json_schema(contract_for(2))
    assert schema["x-rules"] == list(UNEXPRESSED_RULES)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    described = " ".join(rule.description for rule in contract_for(2).fields)
    for word in ("ISO 4217", "check digit", "at most `price`", "after its start"):
        assert word in described
