"""A corpus of real mistakes partners make, each asserting the error says how to fix it.

Item errors carry a `hint` (a close field name or value, the allowed values, the version
a field belongs to); feed errors carry one too (the delimiter or the format the body looks
like, how to close a quote). Locations count physical lines and CSV cells, and a JSON
syntax error has line, column and byte offset on both decoders (msgspec and the standard
library). Every case runs the real parser and validator, as a dry ingest would.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from partner_ingest.domain.model import ErrorCode, IngestReport
from partner_ingest.domain.use_cases.validate_feed import ValidateFeed, validate_against_contract
from partner_ingest.plugins import FormatRegistry, load_formats
from partner_ingest.plugins.json_feed import JsonFeed, JsonLinesFeed

BUILT_IN = load_formats(entry_points=False)
STDLIB = FormatRegistry()
for _version in (1, 2):
    STDLIB.register(JsonFeed(_version, prefer_msgspec=False), plugin="test: json on stdlib")
    STDLIB.register(JsonLinesFeed(_version, prefer_msgspec=False), plugin="test: jsonl on stdlib")

GOOD: dict[str, Any] = {"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}
CSV_HEADER = "sku,name,price,currency,quantity"


def item(**changes: Any) -> bytes:
    """A JSON feed of one item: GOOD with `changes` (None removes a field; `__` is a dot)."""
    data = dict(GOOD)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            data.pop(key, None)
        elif "." in key:
            group, member = key.split(".")
            data.setdefault(group, {"width": 1, "height": 1, "depth": 1, "unit": "cm"})[member] = value
        else:
            data[key] = value
    return json.dumps({"products": [data]}).encode()


def renamed(old: str, new: str) -> bytes:
    data = {new if k == old else k: v for k, v in GOOD.items()}
    return json.dumps({"products": [data]}).encode()


@attrs.frozen
class ItemCase:
    id: str
    body: bytes
    field: str
    code: ErrorCode
    hint: str
    version: int = 1


ITEM_CASES = [
    ItemCase(
        "misspelt field", renamed("price", "prcie"), "prcie", ErrorCode.UNKNOWN_FIELD, "did you mean 'price'?"
    ),
    ItemCase(
        "misspelt field, the missing one",
        renamed("price", "prcie"),
        "price",
        ErrorCode.MISSING,
        "the item has 'prcie': did you mean 'price'?",
    ),
    ItemCase(
        "field in capitals", renamed("sku", "SKU"), "SKU", ErrorCode.UNKNOWN_FIELD, "did you mean 'sku'?"
    ),
    ItemCase(
        "field capitalized", renamed("name", "Name"), "Name", ErrorCode.UNKNOWN_FIELD, "did you mean 'name'?"
    ),
    ItemCase(
        "field missing a letter",
        renamed("quantity", "quantiy"),
        "quantiy",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'quantity'?",
    ),
    ItemCase(
        "field with a doubled letter",
        renamed("currency", "currrency"),
        "currrency",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'currency'?",
    ),
    ItemCase(
        "field cut short", renamed("price", "pric"), "pric", ErrorCode.UNKNOWN_FIELD, "did you mean 'price'?"
    ),
    ItemCase(
        "field with a suffix",
        item(gtin13="4006381333931"),
        "gtin13",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'gtin'?",
    ),
    ItemCase(
        "misspelt optional field",
        item(descripton="A mug"),
        "descripton",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'description'?",
    ),
    ItemCase(
        "field far from any",
        item(colour="red"),
        "colour",
        ErrorCode.UNKNOWN_FIELD,
        "fields of this version: currency, description, gtin, image_url, name, price, quantity, sku",
    ),
    ItemCase(
        "field of a later version",
        item(brand="Acme"),
        "brand",
        ErrorCode.UNKNOWN_FIELD,
        "'brand' is a field of contract version 2: send X-Feed-Version: 2",
    ),
    ItemCase(
        "v2 field misspelt",
        item(sale_prize=5),
        "sale_prize",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'sale_price'?",
        version=2,
    ),
    ItemCase(
        "v2 field misspelt too",
        item(manufactuer="Acme"),
        "manufactuer",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'manufacturer'?",
        version=2,
    ),
    ItemCase(
        "nested member misspelt",
        item(dimensions__widht=3),
        "dimensions.widht",
        ErrorCode.UNKNOWN_FIELD,
        "did you mean 'width'?",
        version=2,
    ),
    ItemCase(
        "currency in lower case",
        item(currency="eur"),
        "currency",
        ErrorCode.ENUM,
        "did you mean 'EUR'? one of",
    ),
    ItemCase("currency capitalized", item(currency="Usd"), "currency", ErrorCode.ENUM, "did you mean 'USD'?"),
    ItemCase(
        "currency misspelt", item(currency="EUO"), "currency", ErrorCode.ENUM, "ISO 4217 currency codes"
    ),
    ItemCase(
        "unit in capitals",
        item(dimensions__unit="CM"),
        "dimensions.unit",
        ErrorCode.ENUM,
        "did you mean 'cm'? allowed: cm, in, m, mm",
        version=2,
    ),
    ItemCase(
        "unit spelled out",
        item(dimensions__unit="inch"),
        "dimensions.unit",
        ErrorCode.ENUM,
        "allowed: cm, in, m, mm",
        version=2,
    ),
]


@pytest.mark.parametrize("case", ITEM_CASES, ids=[c.id for c in ITEM_CASES])
def test_an_item_mistake_says_how_to_fix_it(case: ItemCase) -> None:
    report = validate_against_contract(case.body, formats=BUILT_IN, format="json", version=case.version)
    found = [e for e in report.errors if e.field == case.field and e.code is case.code]
    assert found, [e.to_json() for e in report.errors]
    assert found[0].hint is not None and case.hint in found[0].hint, found[0].to_json()
    assert found[0].to_json()["hint"] == found[0].hint


@attrs.frozen
class FeedCase:
    id: str
    body: bytes
    format: str
    code: ErrorCode
    message: str
    hint: str | None = None
    line: int | None = None


FEED_CASES = [
    FeedCase(
        "semicolon-separated CSV",
        b"sku;name;price;currency;quantity\nA;Mug;9.5;EUR;3\n",
        "csv",
        ErrorCode.MALFORMED,
        "looks separated by semicolons (';')",
        "separate cells with commas",
        1,
    ),
    FeedCase(
        "tab-separated CSV",
        b"sku\tname\tprice\tcurrency\tquantity\nA\tMug\t9.5\tEUR\t3\n",
        "csv",
        ErrorCode.MALFORMED,
        "looks separated by tabs",
        "export with commas",
        1,
    ),
    FeedCase(
        "pipe-separated CSV",
        b"sku|name|price|currency|quantity\nA|Mug|9.5|EUR|3\n",
        "csv",
        ErrorCode.MALFORMED,
        "looks separated by vertical bars",
        "commas",
        1,
    ),
    FeedCase(
        "unclosed quote in the middle",
        (f'{CSV_HEADER}\nA,Mug,9.5,EUR,3\nB,"Cup,9.5,EUR,3\nC,Jug,9.5,EUR,3\nD,Pot,9.5,EUR,3\n'.encode()),
        "csv",
        ErrorCode.MALFORMED,
        "line 3: a quoted cell that starts on this line is never closed",
        'written twice ("")',
        3,
    ),
    FeedCase(
        "unclosed quote on the header",
        b'"sku,name,price,currency,quantity\nA,Mug,9.5,EUR,3\n',
        "csv",
        ErrorCode.MALFORMED,
        "line 1: a quoted cell",
        "close the quote",
        1,
    ),
    FeedCase(
        "missing column",
        b"sku,name,currency,quantity\nA,Mug,EUR,3\nB,Cup,EUR,4\nC,Jug,EUR,5\n",
        "csv",
        ErrorCode.MISSING_COLUMN,
        "line 1: the header has no column for the required field price",
        "add a column for price",
        1,
    ),
    FeedCase(
        "misspelt column",
        b"sku,name,prcie,currency,quantity\nA,Mug,9.5,EUR,3\n",
        "csv",
        ErrorCode.MISSING_COLUMN,
        "required field price",
        "column 'prcie' is probably 'price'",
        1,
    ),
    FeedCase(
        "two missing columns",
        b"sku,name,quantity\nA,Mug,3\n",
        "csv",
        ErrorCode.MISSING_COLUMN,
        "required fields price, currency",
        "add a column for price, currency",
        1,
    ),
    FeedCase(
        "unquoted comma in a cell",
        f"{CSV_HEADER}\nA,Mug, large,9.5,EUR,3\n".encode(),
        "csv",
        ErrorCode.MALFORMED,
        "line 2: 6 cells, but the header has 5",
        "must be quoted",
        2,
    ),
    FeedCase(
        "a cell dropped",
        f"{CSV_HEADER}\nA,Mug,9.5,EUR\n".encode(),
        "csv",
        ErrorCode.MALFORMED,
        "line 2: 4 cells, but the header has 5",
        "leave a cell empty",
        2,
    ),
    FeedCase(
        "JSON sent as CSV",
        item(),
        "csv",
        ErrorCode.MALFORMED,
        "the body looks like JSON, not CSV",
        "application/json",
        1,
    ),
    FeedCase(
        "XML sent as CSV",
        b"<catalog><product/></catalog>",
        "csv",
        ErrorCode.MALFORMED,
        "the body looks like XML, not CSV",
        "application/xml",
        1,
    ),
    FeedCase(
        "CSV sent as JSON",
        f"{CSV_HEADER}\nA,Mug,9.5,EUR,3\n".encode(),
        "json",
        ErrorCode.MALFORMED,
        "a JSON feed is an object",
        "looks like CSV: send it with Content-Type text/csv",
        1,
    ),
    FeedCase(
        "XML sent as JSON",
        b"<catalog/>",
        "json",
        ErrorCode.MALFORMED,
        "a JSON feed is an object",
        "looks like XML: send it with Content-Type application/xml",
        1,
    ),
]


@pytest.mark.parametrize("case", FEED_CASES, ids=[c.id for c in FEED_CASES])
def test_a_document_mistake_says_how_to_fix_it_once(case: FeedCase) -> None:
    report = validate_against_contract(case.body, formats=BUILT_IN, format=case.format)
    error = report.feed_error
    assert error is not None, report.to_json()
    assert error.code is case.code
    assert case.message in error.message, error.message
    if case.hint is not None:
        assert error.hint is not None and case.hint in error.hint, error.hint
    if case.line is not None:
        assert error.location is not None and error.location.line == case.line
    assert report.errors == ()  # said once, for the document: not once per row


SYNTAX_CASES = [
    # (id, format, body, line, column, offset)
    ("trailing comma in an item", "json", b'{"products": [\n  {"sku": "A",}\n]}', 2, 15, 29),
    ("single quotes", "json", b"{\"products\": [\n {'sku': 'A'}\n]}", 2, 3, 17),
    ("a bare word", "json", b'{"products": [{"sku": "A", "price": tru}]}', 1, 37, 36),
    ("jsonl: second line broken", "jsonl", b'{"sku": "A"}\n{"sku": }\n', 2, 9, 21),
    ("jsonl: trailing garbage", "jsonl", b'{"sku": "A"} x\n', 1, 14, 13),
]


@pytest.mark.parametrize("registry", [BUILT_IN, STDLIB], ids=["msgspec", "stdlib"])
@pytest.mark.parametrize(
    ("name", "fmt", "body", "line", "column", "offset"), SYNTAX_CASES, ids=[c[0] for c in SYNTAX_CASES]
)
def test_every_json_syntax_error_has_line_column_and_offset_on_both_decoders(
    registry: FormatRegistry, name: str, fmt: str, body: bytes, line: int, column: int, offset: int
) -> None:
    report = ValidateFeed(registry)(body, format=fmt, version=1)
    error = report.feed_error
    assert error is not None and error.location is not None, report.to_json()
    assert (error.location.line, error.location.column, error.location.offset) == (line, column, offset), (
        error
    )
    assert f"line {line}, column {column}" in error.message and f"byte {offset}" in error.message
    assert body.splitlines(keepends=True)[line - 1][column - 1 :].startswith(body[offset : offset + 1])


def test_a_csv_item_error_is_located_at_its_physical_line_and_cell() -> None:
    body = f'{CSV_HEADER},description\nA,Mug,9.5,EUR,3,"two\nlines"\nB,Cup,-1,EUR,3,x\n'.encode()
    report = validate_against_contract(body, formats=BUILT_IN, format="csv")
    (error,) = report.errors
    assert error.location is not None
    assert (error.location.line, error.location.column) == (4, 3)  # the row starts on line 4; price is cell 3


def test_hints_are_computed_on_the_error_path_only() -> None:
    # A valid feed's report carries no hint anywhere, and the validator's fast path is untouched.
    report: IngestReport = validate_against_contract(item(), formats=BUILT_IN, format="json")
    assert report.errors == () and report.feed_error is None
    assert "hint" not in json.dumps(report.to_json())
