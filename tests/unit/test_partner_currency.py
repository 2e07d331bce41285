"""A partner's currency setting: set, shown, audited and cleared through the use case; a code
that is no ISO 4217 code refused; the validator reporting a format's `UnreadableValue` in the
format's own words on the reference and the fast path alike."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal

import pytest
from support.memory import MemoryApp

from partner_ingest.adapters_in.worker import process_next_job_once
from partner_ingest.domain.model import (
    CONTRACTS,
    AuditAction,
    AuditQuery,
    ErrorCode,
    ItemValidator,
    Job,
    JobStatus,
    Mode,
    UnreadableValue,
)
from partner_ingest.domain.use_cases import FeedSubmission
from partner_ingest.domain.use_cases.manage_partners import PartnerChanges, PartnerRequestError


def test_the_currency_is_set_shown_audited_and_cleared(memory_app: MemoryApp) -> None:
    app, _, _ = memory_app
    assert app.partners.get("acme").currency is None
    view = app.partners.update("acme", PartnerChanges(currency="CHF"), actor="admin:k1")
    assert (view.currency, app.partners.get("acme").currency) == ("CHF", "CHF")
    [entry] = app.audit_trail(AuditQuery(action=AuditAction.PARTNER_CHANGED)).entries
    assert entry.details["fields"] == "currency"
    assert app.partners.update("acme", PartnerChanges(currency=None), actor="admin:k1").currency is None
    created = app.partners.create("shop", PartnerChanges(name="Shop", currency="JPY"), actor="admin:k1")
    assert created.currency == "JPY"


@pytest.mark.parametrize("code", ["usd", "XYZ", "EURO", ""])
def test_a_currency_that_is_no_iso_4217_code_is_refused(memory_app: MemoryApp, code: str) -> None:
    app, _, _ = memory_app
    with pytest.raises(PartnerRequestError) as refused:
        app.partners.update("acme", PartnerChanges(currency=code), actor="admin:k1")
    assert set(refused.value.problems) == {"currency"}
    assert app.partners.get("acme").currency is None


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("fast", [True, False])
def test_an_unreadable_value_is_that_fields_error_in_the_formats_words(mode: Mode, fast: bool) -> None:
    validator = ItemValidator(CONTRACTS[2], mode, textual=True, partner_id="acme", fast=fast)
    item = {
        "sku": "A-1",
        "name": "Mug",
        "price": UnreadableValue("price '15 dollars' is not an amount with its currency"),
        "currency": "EUR",
        "quantity": "3",
        "dimensions": {
            "width": "1",
            "height": "2",
            "depth": UnreadableValue("no length", ErrorCode.RANGE),
            "unit": "cm",
        },
    }
    errors = validator.validate(item, 0)
    assert isinstance(errors, list)
    assert [(e.field, e.code, e.message) for e in errors] == [
        ("price", ErrorCode.FORMAT, "price: price '15 dollars' is not an amount with its currency"),
        ("dimensions.depth", ErrorCode.RANGE, "dimensions.depth: no length"),
    ]
    item["price"] = "15.00"
    item["dimensions"] = {"width": "1", "height": "2", "depth": "3", "unit": "cm"}
    row = validator.validate(item, 0)
    assert isinstance(row, tuple) and Decimal(row[3]) == Decimal("15.00")


def test_a_shopify_job_for_a_partner_without_a_currency_ends_in_its_report_not_in_retries(
    memory_app: MemoryApp,
) -> None:
    app, store, _ = memory_app
    body = app.formats.get("shopify-csv", 2).sample()  # type: ignore[attr-defined]
    submission = FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="shopify-csv")
    job = app.submit_job(submission, body_bytes=len(body), content_hash=hashlib.sha256(body).hexdigest())
    assert isinstance(job, Job)
    process_next_job_once(app)
    with store.unit_of_work(read_only=True) as uow:
        done = uow.jobs.get(job.id)
    assert done is not None and (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    assert done.report is not None and done.report.feed_error is not None
    assert done.report.feed_error.code is ErrorCode.MISSING_SETTING
