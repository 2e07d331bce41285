"""A partner in a real browser: signs in with its key, checks a CSV with mistakes, reads the errors
grouped by code, applies it, downloads every rejected item, fixes the file, applies it and finds
its products (ADR 0038)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from support.browser import Visit
from support.service import Service, serving

BAD_CSV = (
    b"sku,name,price,currency,quantity\n"
    b"CHAIR-1,Chair,12.50,EUR,3\n"
    b"CHAIR-2,,19.90,EUR,1\n"
    b"DESK-1,Desk,abc,EUR,2\n"
    b"DESK-2,Desk XL,-5,EUR,1\n"
)
FIXED_CSV = (
    b"sku,name,price,currency,quantity\n"
    b"CHAIR-1,Chair,12.50,EUR,3\n"
    b"CHAIR-2,Chair two,19.90,EUR,1\n"
    b"DESK-1,Desk,45.00,EUR,2\n"
    b"DESK-2,Desk XL,85.00,EUR,1\n"
)


def sign_in(page: Page, service: Service, key: str) -> None:
    page.goto(f"{service.base_url}/portal")
    expect(page).to_have_url(f"{service.base_url}/portal/sign-in")  # no session: sent to sign in
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{service.base_url}/portal")


def upload(page: Page, tmp_path: Path, name: str, body: bytes, action: str) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    page.get_by_label("Feed file").set_input_files(str(path))
    page.get_by_role("button", name=action, exact=True).click()


def test_a_partner_checks_a_feed_with_mistakes_fixes_it_applies_it_and_finds_its_products(
    service: Service, page: Page, visit: Visit, tmp_path: Path
) -> None:
    partner, key = service.partner(service.admin_key(), default_format="csv")
    page.goto(f"{service.base_url}/portal/sign-in")
    visit("portal-sign-in")
    sign_in(page, service, key)
    expect(page.get_by_text("No imports yet")).to_be_visible()
    visit("portal-overview-empty")

    # Check: the report grouped by error code, nothing applied.
    page.get_by_role("link", name="Check a feed").first.click()
    visit("portal-check-form")
    # Dropped on the form (the enhancement of static/check.js) rather than chosen: same check.
    page.evaluate(
        """(text) => {
            const files = new DataTransfer();
            files.items.add(new File([text], "catalog.csv", {type: "text/csv"}));
            document.getElementById("check-form").dispatchEvent(new DragEvent("drop", {dataTransfer: files}));
        }""",
        BAD_CSV.decode(),
    )
    expect(page.locator("#dropped")).to_have_text("Chosen: catalog.csv")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="Check of catalog.csv: nothing was applied")).to_be_visible()
    groups = page.locator("details.group summary code").all_inner_texts()
    assert set(groups) == {"missing", "format", "range"}, groups
    assert page.locator("details.group", has_text="missing").get_by_role("cell", name="CHAIR-2").count() == 1
    assert page.locator("details.group", has_text="format").get_by_role("cell", name="DESK-1").count() == 1
    visit("portal-check-report")
    assert service.sql("SELECT count(*) AS n FROM product WHERE partner_id = ?", (partner,))[0]["n"] == 0

    # Apply the file as it is: the valid item lands, the import keeps every rejected one.
    upload(page, tmp_path, "catalog.csv", BAD_CSV, "Apply")
    expect(page.get_by_role("heading", name="catalog.csv was applied")).to_be_visible()
    page.locator("section[aria-labelledby=report-heading] a[href*='/portal/imports/']").click()
    expect(page.get_by_role("heading", level=3)).to_have_count(3)
    visit("portal-import-diagnostics")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    rows = Path(csv_download.value.path()).read_text().splitlines()
    assert rows[0].startswith("seq,index,sku,field,code")
    assert {row.split(",")[2] for row in rows[1:]} == {"CHAIR-2", "DESK-1", "DESK-2"}
    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="JSON Lines").click()
    assert len(Path(jsonl_download.value.path()).read_text().splitlines()) == len(rows) - 1

    # Fix, check again (no errors), apply, and find the products.
    page.goto(f"{service.base_url}/portal/check")
    upload(page, tmp_path, "catalog-fixed.csv", FIXED_CSV, "Check")
    expect(page.get_by_text("No errors.")).to_be_visible()
    upload(page, tmp_path, "catalog-fixed.csv", FIXED_CSV, "Apply")
    expect(page.get_by_role("heading", name="catalog-fixed.csv was applied")).to_be_visible()
    expect(page.locator(".status-accepted")).to_have_text("accepted")

    page.get_by_role("link", name="Imports").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    visit("portal-overview")
    page.get_by_role("link", name="Products").click()
    expect(page.locator("tbody tr")).to_have_count(4)
    page.get_by_label("Search for").fill("DESK")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("cell", name="45.00 EUR").first).to_be_visible()
    visit("portal-products")

    page.get_by_role("link", name="Contract").click()
    visit("portal-contract")
    with page.expect_download() as example:
        page.locator("a[href$='/portal/contract/examples/csv/1']").click()
    assert Path(example.value.path()).read_text().startswith("sku,")

    # Signing out ends the session on the server: the old cookie opens nothing.
    cookie = next(c for c in page.context.cookies() if c["name"] == "pi_portal")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{service.base_url}/portal/sign-in")
    replay = page.request.get(
        f"{service.base_url}/portal", headers={"Cookie": f"pi_portal={cookie['value']}"}, max_redirects=0
    )
    assert replay.status == 303 and replay.headers["location"].endswith("/portal/sign-in")


def test_the_session_cookie_and_the_page_headers_are_locked_down(service: Service, page: Page) -> None:
    _, key = service.partner(service.admin_key())
    sign_in(page, service, key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "pi_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/portal"
    assert (
        cookie["value"]
        not in service.sql("SELECT group_concat(token_hash) AS t FROM partner_web_sessions")[0]["t"]
    )
    answer = page.request.get(f"{service.base_url}/portal")
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in answer.headers  # plain HTTP here; see the TLS test


def test_behind_a_tls_proxy_the_cookie_is_secure_and_hsts_is_sent(service: Service) -> None:
    with service.client() as client:
        form = client.get("/portal/sign-in", headers={"X-Forwarded-Proto": "https"})
        assert form.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in form.headers["set-cookie"].lower()


def test_a_wrong_key_is_refused_and_counted_like_an_api_call(service: Service, page: Page) -> None:
    page.goto(f"{service.base_url}/portal/sign-in")
    page.get_by_label("API key").fill("pcik_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That key was not accepted.")
    assert any(e["action"] == "auth.failed" for e in service.audit())
    assert not re.search("pcik_not_a_key", service.audit_text())


def test_an_upload_over_the_sync_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with serving(tmp_path / "small.db", max_sync_bytes=64 * 1024) as small:
        _, key = small.partner(small.admin_key())
        with small.client() as browser_like:
            form = browser_like.get("/portal/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            signed = browser_like.post("/portal/sign-in", data={"csrf_token": token.group(1), "api_key": key})
            assert signed.status_code == 303
            page = browser_like.get("/portal/check")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            big = b"sku,name,price,currency,quantity\n" + b"A,B,1.00,EUR,1\n" * 20_000
            answer = browser_like.post(
                "/portal/check",
                data={"csrf_token": csrf.group(1), "action": "apply"},
                files={"feed": ("big.csv", big, "text/csv")},
            )
            assert answer.status_code == 413
            assert "send larger feeds through the API as jobs" in answer.text
        assert small.sql("SELECT count(*) AS n FROM partner_feed_imports")[0]["n"] == 0
