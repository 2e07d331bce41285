"""A partner in a real browser sets its webhook (the signing secret shown once), rotates it, sends a
test event and reads the delivery log; searches its products by name; and opens a SKU's status from
the products list: the last accepted version and the errors of the last rejected one (ADR 0038)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from support.browser import Visit
from support.service import Service

CATALOG = (
    b"sku,name,price,currency,quantity\n"
    b"LAMP-1,Desk lamp,20.00,EUR,3\n"
    b"DESK-1,Oak DESK,45.00,EUR,2\n"
    b"DESK-2,Walnut desk,abc,EUR,1\n"
    b"RUG-1,Wool rug,30.00,EUR,1\n"
)
FIXED = b"sku,name,price,currency,quantity\nDESK-2,Walnut desk,85.00,EUR,1\n"


def sign_in(page: Page, service: Service, key: str) -> None:
    page.goto(f"{service.base_url}/portal/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{service.base_url}/portal")


def apply(page: Page, service: Service, path: Path, body: bytes) -> None:
    path.write_bytes(body)
    page.goto(f"{service.base_url}/portal/check")
    page.get_by_label("Feed file").set_input_files(str(path))
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("heading", name=f"{path.name} was applied")).to_be_visible()


def test_a_partner_sets_its_webhook_sees_the_secret_once_rotates_it_and_sends_a_test(
    service: Service, page: Page, visit: Visit
) -> None:
    partner, key = service.partner(service.admin_key())
    sign_in(page, service, key)
    page.get_by_role("link", name="Webhook").click()
    expect(page.locator("#no-webhook")).to_be_visible()
    visit("portal-webhook-empty")

    page.get_by_label("Webhook URL (http or https)").fill("https://shop.hooks.example/events")
    page.get_by_role("button", name="Set the webhook").click()
    first = page.locator("#webhook-secret").inner_text()
    assert first.startswith("whsec_")
    expect(page.locator("#webhook-url")).to_have_text("https://shop.hooks.example/events")
    visit("portal-webhook-secret")
    page.goto(f"{service.base_url}/portal/webhook")  # shown once: never again
    expect(page.locator("#webhook-state")).to_have_text("enabled")
    assert first not in page.content()

    # A form post without the session's CSRF token changes nothing (cookie sent, same site).
    forged = page.request.post(
        f"{service.base_url}/portal/webhook/rotate", form={"csrf_token": "guess"}, max_redirects=0
    )
    assert forged.status == 403
    assert (
        service.audit("action = 'webhook.changed' AND actor = ?", (partner,))[-1]["details"]["change"]
        == "created"
    )

    page.get_by_role("button", name="Rotate the secret").click()
    second = page.locator("#webhook-secret").inner_text()
    assert second.startswith("whsec_") and second != first
    expect(page.locator("dl.facts")).to_contain_text("Previous secret signs until")

    page.get_by_role("button", name="Send a test event").click()
    expect(page).to_have_url(f"{service.base_url}/portal/webhook")
    expect(page.locator("tr.delivery")).to_have_count(1)
    expect(page.locator("tr.delivery td").first).to_have_text("webhook.test")
    visit("portal-webhook")
    assert second not in page.content()
    with service.client() as api:  # the API twin sees the same webhook and the same log
        shown = api.get("/partner/webhook", headers={"X-API-Key": key}).json()
        log = api.get("/partner/webhook/deliveries", headers={"X-API-Key": key}).json()["deliveries"]
    assert shown["url"] == "https://shop.hooks.example/events" and shown["previous_secret_valid_until"]
    assert [d["event"] for d in log] == ["webhook.test"]
    # Audited as PUT /partner/webhook and POST /partner/webhook/rotate are: by the partner, no secret.
    changes = [
        e["details"]["change"] for e in service.audit("action = 'webhook.changed' AND actor = ?", (partner,))
    ]
    assert changes == ["created", "secret_rotated"]
    text = service.audit_text()
    assert first not in text and second not in text

    page.get_by_role("button", name="Remove the webhook").click()
    expect(page.locator("#no-webhook")).to_be_visible()


def test_a_partner_finds_products_by_name_and_opens_a_skus_status(
    service: Service, page: Page, visit: Visit, tmp_path: Path
) -> None:
    _, key = service.partner(service.admin_key(), default_format="csv")
    sign_in(page, service, key)
    apply(page, service, tmp_path / "catalog.csv", CATALOG)

    page.get_by_role("link", name="Products").click()
    page.get_by_label("Search for").fill("desk")
    page.get_by_label("in", exact=True).select_option("name")
    page.get_by_role("button", name="Search").click()
    # Any part of the name, any case, in SKU order; DESK-2 was rejected so it is no product yet.
    expect(page.locator("tbody tr td:first-child")).to_have_text(["DESK-1", "LAMP-1"])
    expect(page.get_by_label("in", exact=True)).to_have_value("name")
    visit("portal-products-by-name")

    # The rejected SKU: no accepted version, the errors of the import that rejected it.
    page.goto(f"{service.base_url}/portal/products?q=DESK-2")
    page.get_by_role("link", name="Where SKU DESK-2 stands").click()
    expect(page.locator("#no-accepted")).to_be_visible()
    expect(page.locator("tr.sku-error td").first).to_have_text("format")
    visit("portal-sku-status-rejected")
    with service.client() as api:
        twin = api.get("/partner/products/DESK-2/status", headers={"X-API-Key": key}).json()
    assert twin["accepted"] is None and [e["code"] for e in twin["rejected"]["errors"]] == ["format"]
    expect(page.get_by_role("link", name=twin["rejected"]["import_id"])).to_be_visible()

    # Fixed and applied: its status, linked from the products list, shows both versions.
    apply(page, service, tmp_path / "fixed.csv", FIXED)
    page.goto(f"{service.base_url}/portal/products?q=DESK-2")
    page.get_by_role("link", name="Status of DESK-2").click()
    expect(page.locator("dl.facts")).to_contain_text("85.00 EUR")
    expect(page.locator("tr.sku-error td").first).to_have_text("format")
    expect(page.get_by_text("fixed since by import")).to_be_visible()
    visit("portal-sku-status")

    page.goto(f"{service.base_url}/portal/products/status?sku=NOPE-9")
    expect(page.get_by_role("heading", name="Something needs attention")).to_be_visible()
