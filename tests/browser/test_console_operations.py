"""An admin in a real browser runs a schedule now and reads its last outcome, error and time; sees
which partners send which contract version and each version's lifecycle; and finds every partner's
webhook with the disabled ones flagged. Each action is audited exactly like its API twin (ADR 0038)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from support.browser import Visit, sign_in
from support.feeds import jsonl_feed
from support.service import Service, serving

LIFECYCLE = '{"1": {"status": "deprecated", "sunset": "2099-06-30T00:00:00Z"}}'


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """This module's server: contract v1 deprecated with a sunset, so its lifecycle shows."""
    database: Path = tmp_path_factory.mktemp("console-ops") / "pages.db"
    with serving(database, contract_lifecycle=LIFECYCLE) as running:
        yield running


def test_an_admin_runs_a_schedule_now_and_sees_its_last_outcome_error_and_time(
    service: Service, page: Page, visit: Visit
) -> None:
    admin = service.admin_key()
    partner, _ = service.partner(admin)  # no endpoint: the run can only come to `no_endpoint`
    with service.client() as api:
        made = api.post(
            f"/admin/partners/{partner}/schedules",
            json={"interval_seconds": 3600},
            headers={"X-API-Key": admin},
        )
        assert made.status_code == 201, made.text
    schedule_id = made.json()["id"]

    sign_in(page, service.base_url, admin)
    forged = page.request.post(  # signed in, but without the session's CSRF token: refused
        f"{service.base_url}/console/schedules/{schedule_id}/run",
        form={"csrf_token": "guess"},
        max_redirects=0,
    )
    assert forged.status == 403
    page.get_by_role("link", name="Schedules").click()
    row = page.locator(f"#schedule-{schedule_id}")
    expect(row.locator(".last-run")).to_have_text("never")
    page.get_by_role("button", name=f"Run now: schedule {schedule_id}").click()
    expect(page).to_have_url(
        f"{service.base_url}/console/schedules?ran={schedule_id}"
    )  # reloads never re-run
    expect(page.locator("#run-result")).to_contain_text("no_endpoint")
    expect(row.locator(".last-outcome")).to_have_text("no_endpoint")
    expect(row.locator(".last-error")).not_to_be_empty()
    expect(row.locator(".last-run")).not_to_have_text("never")
    visit("console-schedules-ran")

    stored = service.sql(
        "SELECT last_outcome, last_run_at FROM partner_schedules WHERE id = ?", (schedule_id,)
    )
    assert stored[0]["last_outcome"] == "no_endpoint" and stored[0]["last_run_at"] is not None
    # Audited as POST /admin/schedules/{id}/run is: an admin action naming the run, by this key.
    ran = [e for e in service.audit() if e["details"].get("schedule_run") == schedule_id]
    assert len(ran) == 1 and ran[0]["actor"] == f"admin:{admin.split('_')[1]}", ran
    assert ran[0]["action"] == "admin.action" and ran[0]["partner_id"] == partner


def test_an_admin_sees_which_partners_send_which_contract_version_and_its_lifecycle(
    service: Service, page: Page, visit: Visit
) -> None:
    admin = service.admin_key()
    partner, key = service.partner(admin)
    with service.client() as api:
        sent = api.post(
            "/partner/ingest",
            content=jsonl_feed(2, prefix="USE"),
            headers={"X-API-Key": key, "Content-Type": "application/x-ndjson"},
        )
        assert sent.status_code in (200, 201), sent.text
        usage = api.get("/admin/contract/usage", headers={"X-API-Key": admin}).json()["versions"]
    sign_in(page, service.base_url, admin)
    page.get_by_role("link", name="Contract versions").click()
    visit("console-contract-versions")
    v1, v2 = page.locator("#version-1"), page.locator("#version-2")
    expect(v1.locator(".lifecycle")).to_have_text("deprecated, sunset 2099-06-30T00:00:00+00:00")
    expect(v2.locator(".lifecycle")).to_have_text("current")
    expect(v1.locator(".users")).to_contain_text(f"{partner} (1,")
    # The page says what its API twin says.
    api_v1 = next(v for v in usage if v["version"] == 1)
    assert any(u["partner_id"] == partner and u["imports"] == 1 for u in api_v1["partners"])
    assert api_v1["status"] == "deprecated"
    page.locator("#version-1 .users").get_by_role("link", name=partner).click()
    expect(page).to_have_url(f"{service.base_url}/console/partners/{partner}")


def test_an_admin_sees_every_webhook_with_the_disabled_ones_flagged(
    service: Service, page: Page, visit: Visit
) -> None:
    admin = service.admin_key()
    healthy, healthy_key = service.partner(admin)
    broken, broken_key = service.partner(admin)
    secrets = []
    with service.client() as api:
        for key, host in ((healthy_key, "ok"), (broken_key, "down")):
            put = api.put(
                "/partner/webhook",
                json={"url": f"https://{host}.hooks.example/events"},
                headers={"X-API-Key": key},
            )
            assert put.status_code == 201, put.text
            secrets.append(put.json()["secret"])
    # Five failed attempts in a row, as the sender records them (no receiver needed for that).
    now = service.app.clock.now()
    with service.app.uow() as uow:
        hook = uow.webhooks.get(broken)
        assert hook is not None
        for _ in range(5):
            hook = hook.after_attempt(False, now, disable_after=5)
        uow.webhooks.put(hook)
        uow.commit()
    assert not hook.enabled

    sign_in(page, service.base_url, admin)
    page.get_by_role("link", name="Webhooks").click()
    visit("console-webhooks")
    expect(page.locator(f"#webhook-{broken} .webhook-state")).to_contain_text("disabled since")
    expect(page.locator(f"#webhook-{broken} .webhook-state")).to_contain_text(
        "5 delivery attempts in a row failed"
    )
    expect(page.locator(f"#webhook-{healthy} .webhook-state")).to_have_text("enabled")
    ids = [
        i.removeprefix("webhook-") for i in page.locator("tbody tr").evaluate_all("rs => rs.map(r => r.id)")
    ]
    assert ids.index(broken) < ids.index(healthy)  # the disabled ones first
    assert not [s for s in (*secrets, hook.secret) if s in page.content()]  # no secret, plain or sealed
