"""Browser fixtures: Debian's Chromium driven by Playwright against a real server on loopback.

The browser is the distribution's headless Chromium (Debian's `chromium-headless-shell`,
installed by the Makefile when missing; PARTNER_INGEST_TEST_CHROMIUM names another, such as
`/usr/bin/chromium`); Playwright never downloads one. Each test gets a fresh browser context that
speaks from an address of its own (X-Forwarded-For through the trusted loopback proxy),
so one test's failed sign-ins never block another's.

`visit` is what every page check goes through: it loads the page, saves a screenshot
under tests/artifacts/screenshots/ (ignored by git; of the whole page for those the README
shows from docs/screenshots/, of the window otherwise), and runs axe-core (vendored beside
this file) on it, failing on any serious or critical violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from support.browser import (
    ARTIFACTS,
    AXE_RESULTS,
    CHROMIUM,
    README_SCREENSHOTS,
    SCREENSHOTS,
    Visit,
    axe_violations,
)
from support.http import new_address
from support.service import Service, serving


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium-headless-shell")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield launched
    launched.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-results.json").write_text(json.dumps(AXE_RESULTS, indent=2, sort_keys=True))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The module's server: `serve`'s app on a SQLite file of its own."""
    with serving(tmp_path_factory.mktemp("browser") / "pages.db") as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(extra_http_headers={"X-Forwarded-For": new_address()}, accept_downloads=True)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def visit(page: Page) -> Visit:
    """Check the page now shown: screenshot it as `name`, and no serious or critical axe violation
    (unless `axe=False`, for a state a later check of the same page shows all of)."""

    def check(name: str, *, axe: bool = True) -> Page:
        # The pages are rendered by the server: once the document and its subresources have
        # loaded, nothing more arrives on its own (Swagger UI's one fetch, of the document,
        # is waited for by its test). "networkidle" would add half a second of silence to every check.
        page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # A whole page only where the README shows it: Swagger UI's page, eight thousand pixels
        # long, took a second or more of the browser's CPU to shoot whole, twice a run.
        whole = (README_SCREENSHOTS / f"{name}.png").exists()
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=whole)
        if not axe:
            # A state whose every element a later check of the same page still shows: axe (seconds
            # on a page as long as Swagger UI's) runs once, on that later state.
            return page
        violations = axe_violations(page)
        AXE_RESULTS[name] = violations
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {bad}"
        return page

    return check
