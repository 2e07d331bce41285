"""`validate_against_contract` (ADR 0010, scenario I1): a partner checks a feed with no
database and gets the report the server would give."""

from __future__ import annotations

from partner_ingest.domain.model import ErrorCode, FeedStatus, IngestCounts
from partner_ingest.domain.use_cases import validate_against_contract
from partner_ingest.plugins import load_formats

FORMATS = load_formats(entry_points=False)
VALID = b'{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}'
BAD_GTIN = (
    b'{"sku": "A-2", "name": "Cup", "price": 2, "currency": "EUR", "quantity": 1, "gtin": "4006381333932"}'
)


def test_a_valid_feed_is_accepted_and_every_item_counted_as_created() -> None:
    report = validate_against_contract(b'{"products": [' + VALID + b"]}", format="json", formats=FORMATS)
    assert (report.status, report.counts) == (FeedStatus.ACCEPTED, IngestCounts(received=1, created=1))


def test_item_errors_and_rules_beyond_the_schema_are_reported_as_the_server_would() -> None:
    document = b'{"products": [' + VALID + b", " + BAD_GTIN + b"]}"
    report = validate_against_contract(document, media_type="application/json", formats=FORMATS)
    assert report.status is FeedStatus.PARTIAL
    [error] = report.errors
    assert (error.index, error.field, error.code) == (1, "gtin", ErrorCode.CHECKSUM)
    assert error.location is not None and error.location.pointer == "/products/1/gtin"


def test_the_mode_and_version_are_the_callers_choice() -> None:
    lenient_text = b"sku,name,price,currency,quantity,colour\nA-1,Mug,9.50,EUR,3,red\n"
    strict = validate_against_contract(lenient_text, format="csv", formats=FORMATS)
    lenient = validate_against_contract(lenient_text, format="csv", mode="lenient", formats=FORMATS)
    assert [e.code for e in strict.errors] == [ErrorCode.UNKNOWN_FIELD]
    assert lenient.status is FeedStatus.ACCEPTED
    branded = b'{"products": [' + VALID.replace(b"}", b', "brand": "Acme"}') + b"]}"
    v1 = validate_against_contract(branded, format="json", formats=FORMATS)
    v2 = validate_against_contract(branded, format="json", version=2, formats=FORMATS)
    assert [e.code for e in v1.errors] == [ErrorCode.UNKNOWN_FIELD]
    assert (v2.status, v2.version) == (FeedStatus.ACCEPTED, 2)
