"""The catalog lifecycle in a real browser: an admin releases and discards snapshots the mass-delete
guard held (audited like POST /admin/imports/{id}/release and /discard); a partner sees its held
import waiting for an operator, finds its retired products on request, and applies a feed in the
mode it chooses, its own feed_mode preselected (ADR 0038)."""

from __future__ import annotations

from pathlib import Path

import httpx2
from playwright.sync_api import Page, expect
from support.browser import Visit, sign_in
from support.feeds import jsonl_feed
from support.service import Service

JSONL = "application/x-ndjson"


def send(api: httpx2.Client, key: str, body: bytes, **headers: str) -> httpx2.Response:
    return api.post(
        "/partner/ingest", content=body, headers={"X-API-Key": key, "Content-Type": JSONL, **headers}
    )


def skus(api: httpx2.Client, key: str, *, retired: bool = False) -> list[str]:
    params = {"limit": "1000", **({"retired": "true"} if retired else {})}
    found = api.get("/partner/products", params=params, headers={"X-API-Key": key})
    assert found.status_code == 200, found.text
    return [product["sku"] for product in found.json()["products"]]


def held_snapshot(api: httpx2.Client, key: str, keep: int) -> str:
    """Send a snapshot naming only the first `keep` of the catalog: the guard holds it."""
    held = send(api, key, jsonl_feed(keep, prefix="CAT"), **{"X-Feed-Mode": "snapshot"})
    assert held.status_code == 202 and held.json()["status"] == "held", held.text
    feed_id: str = held.json()["feed_id"]
    return feed_id


def test_an_admin_releases_one_held_snapshot_and_discards_another(
    service: Service, page: Page, visit: Visit
) -> None:
    admin = service.admin_key()
    partner, key = service.partner(admin, rate_limit_per_minute=100_000)
    with service.client() as api:
        assert send(api, key, jsonl_feed(10, prefix="CAT")).status_code in (200, 201)
        released_id = held_snapshot(api, key, 2)  # would retire 8 of 10
    everything = [f"CAT-{n:08d}" for n in range(10)]

    sign_in(page, service.base_url, admin)
    forged = page.request.post(  # signed in, but without the session's CSRF token: refused
        f"{service.base_url}/console/imports/{released_id}/release",
        form={"csrf_token": "guess"},
        max_redirects=0,
    )
    assert forged.status == 403
    page.get_by_role("link", name="Held snapshots").click()
    row = page.locator(f"#held-{released_id}")
    expect(row).to_contain_text(partner)
    expect(row.locator(".received")).to_have_text("2")
    expect(row.locator(".created")).to_have_text("0")
    expect(row.locator(".updated")).to_have_text("0")
    expect(row.locator(".retired")).to_have_text("8")
    visit("console-held-snapshots")
    with service.client() as api:
        assert skus(api, key) == everything  # held: nothing written yet

    page.get_by_role("button", name=f"Release held import {released_id}").click()
    expect(page).to_have_url(  # redirected: reloading the answer never releases again
        f"{service.base_url}/console/imports/held?settled={released_id}&partner_id={partner}"
        + "&release="
        + page.url.rsplit("&release=", 1)[-1]
    )
    result = page.locator("#settle-result")
    expect(result).to_contain_text("released")
    expect(result).to_contain_text("8 retired")
    expect(page.locator(f"#held-{released_id}")).to_have_count(0)
    visit("console-held-released")
    page.reload()
    expect(page.locator("#settle-result")).to_contain_text("released")
    with service.client() as api:
        assert skus(api, key) == everything[:2]
        assert skus(api, key, retired=True) == everything[2:]
        discarded_id = held_snapshot(api, key, 0)  # an empty snapshot: would retire the last 2

    page.reload()
    expect(page.locator(f"#held-{discarded_id} .retired")).to_have_text("2")
    page.get_by_role("button", name=f"Discard held import {discarded_id}").click()
    expect(page.locator("#settle-result")).to_contain_text("discarded")
    expect(page.locator("#settle-result")).to_contain_text("the catalog is unchanged")
    expect(page.get_by_text("No snapshot is held.")).to_be_visible()
    with service.client() as api:
        assert skus(api, key) == everything[:2]
        again = api.post(f"/admin/imports/{discarded_id}/release", headers={"X-API-Key": admin})
        assert again.status_code == 409  # settled once, by the page

    # Audited as the API twins are: the action, this admin as the actor, the partner, the import.
    actor = f"admin:{admin.split('_')[1]}"
    settled = [e for e in service.audit() if e["action"] in ("feed.released", "feed.discarded")]
    assert [(e["action"], e["details"]["feed_id"]) for e in settled] == [
        ("feed.released", released_id),
        ("feed.discarded", discarded_id),
    ]
    assert all(e["actor"] == actor and e["partner_id"] == partner for e in settled), settled
    assert settled[0]["details"]["retired"] == 8 and settled[1]["details"]["retired"] == 2


def test_a_partner_sees_its_held_import_waiting_and_its_retired_products_on_request(
    service: Service, page: Page, visit: Visit
) -> None:
    admin = service.admin_key()
    _, key = service.partner(admin, rate_limit_per_minute=100_000)
    with service.client() as api:
        assert send(api, key, jsonl_feed(6, prefix="CAT")).status_code in (200, 201)
        held_id = held_snapshot(api, key, 1)  # would retire 5 of 6

    sign_in(page, service.base_url, key, "portal")
    expect(page.locator("#held-notice")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=held_id)).to_contain_text("held: waiting for an operator")
    visit("portal-overview-held")
    page.get_by_role("link", name=held_id).click()
    expect(page.locator("#import-status")).to_have_text("held: waiting for an operator")
    expect(page.locator("#import-counts .retired")).to_have_text("5")
    expect(page.locator("#import-counts caption")).to_have_text("Counts: what it would do once released")
    visit("portal-import-held")

    with service.client() as api:
        released = api.post(f"/admin/imports/{held_id}/release", headers={"X-API-Key": admin})
        assert released.status_code == 200, released.text
    page.reload()
    expect(page.locator("#import-status")).to_have_text("released by an operator")

    page.get_by_role("link", name="Products").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Retired products (by SKU)").check()
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{service.base_url}/portal/products?q=&by=sku&retired=true")
    expect(page.get_by_role("table")).to_contain_text("Retired products")
    rows = page.locator("tbody tr td:first-child").all_inner_texts()
    with service.client() as api:
        assert rows == skus(api, key, retired=True) == [f"CAT-{n:08d}" for n in range(1, 6)]
    visit("portal-products-retired")
    page.get_by_label("Search for").fill("CAT-00000003")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr td:first-child")).to_have_text(["CAT-00000003"])
    page.goto(f"{service.base_url}/portal/products?q=Item&by=name&retired=true")
    expect(page.locator("main")).to_contain_text("retired products are searched by SKU")


def test_a_partner_applies_a_feed_in_the_mode_it_chooses_its_own_preselected(
    service: Service, page: Page, visit: Visit, tmp_path: Path
) -> None:
    admin = service.admin_key()
    _, key = service.partner(admin, rate_limit_per_minute=100_000, feed_mode="snapshot")
    sign_in(page, service.base_url, key, "portal")
    page.get_by_role("link", name="Check a feed").first.click()
    mode = page.get_by_label("Feed mode")
    expect(mode).to_have_value("snapshot")  # the partner's feed_mode
    visit("portal-check-modes")

    def apply(name: str, body: bytes, chosen: str | None) -> None:
        path = tmp_path / name
        path.write_bytes(body)
        page.get_by_label("Feed file").set_input_files(str(path))
        page.get_by_label("Format").select_option("jsonl:1")
        if chosen:
            page.get_by_label("Feed mode").select_option(chosen)
        page.get_by_role("button", name="Apply", exact=True).click()
        expect(page.get_by_role("heading", name=f"{name} was applied")).to_be_visible()

    apply("catalog.jsonl", jsonl_feed(4, prefix="MODE"), "upsert")
    expect(page.locator("#report-status")).to_have_text("accepted")
    expect(page.get_by_label("Feed mode")).to_have_value("upsert")  # the answer keeps the choice
    apply("price.jsonl", b'{"sku": "MODE-00000000", "price": 99.00}\n', "patch")
    expect(page.locator("#report-status")).to_have_text("accepted")
    with service.client() as api:
        assert skus(api, key) == [f"MODE-{n:08d}" for n in range(4)]  # patch retired nothing
        patched = api.get("/partner/products/MODE-00000000", headers={"X-API-Key": key}).json()
        assert float(patched["price"]) == 99.0 and patched["name"] == "Item 0"  # only the price
    page.get_by_role("link", name="Check a feed").first.click()
    expect(page.get_by_label("Feed mode")).to_have_value("snapshot")
    apply("one.jsonl", jsonl_feed(1, prefix="MODE"), None)  # the default: a snapshot, held
    expect(page.locator("#report-status")).to_have_text("held: waiting for an operator")
    expect(page.locator("section[aria-labelledby=report-heading] .retired")).to_have_text("3")
    visit("portal-check-held")
    forged = page.request.post(f"{service.base_url}/portal/check", multipart={"csrf_token": "guess"})
    assert forged.status == 403
    with service.client() as api:
        assert len(skus(api, key)) == 4
