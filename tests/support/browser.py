"""Browser test support: axe-core (vendored in tests/browser/), where screenshots go, the `visit` check's type."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol

from playwright.sync_api import Page, expect

__all__ = [
    "ARTIFACTS",
    "AXE_RESULTS",
    "CHROMIUM",
    "README_SCREENSHOTS",
    "SCREENSHOTS",
    "Visit",
    "axe_violations",
]

# Debian's headless shell (package chromium-headless-shell, the same Chromium release as the
# `chromium` package: Blink, V8, the network stack): the pages render and run exactly as there,
# without the desktop browser's machinery (its UI layers, the "new" headless mode's full browser
# process), which would otherwise be most of what the browser tests spend. The binary itself,
# not the /usr/bin shell wrapper, so that Playwright's signals reach the browser.
CHROMIUM = os.environ.get("PARTNER_INGEST_TEST_CHROMIUM", "/usr/lib/chromium/chromium-headless-shell")
AXE = (Path(__file__).parent.parent / "browser" / "axe.min.js").read_text(encoding="utf-8")
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
README_SCREENSHOTS = Path(__file__).parent.parent.parent / "docs" / "screenshots"
"""Copies of some of this run's screenshots, shown by the README: those pages are shot whole."""
AXE_RESULTS: dict[str, list[dict[str, Any]]] = {}
"""Every page checked in this run: its violations of any impact (written out at the end)."""


class Visit(Protocol):
    """Check the page shown now (see `visit`)."""

    def __call__(self, name: str, *, axe: bool = True) -> Page: ...


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the whole page as it is now (run through the DevTools protocol,
    which the page's Content-Security-Policy does not govern: the page itself still allows no
    inline script). No part is left out: vendored widgets are held to the rule like ours."""
    # Compiled as a named script rather than evaluated: V8 keeps compiled scripts per renderer process,
    # found again by source and name, so each later page a renderer checks skips parsing axe-core's
    # 650 kB again (an evaluated expression is compiled anew in every document).
    session = page.context.new_cdp_session(page)
    try:
        session.send("Runtime.enable")
        compiled = session.send(
            "Runtime.compileScript", {"expression": AXE, "sourceURL": "axe.min.js", "persistScript": True}
        )
        ran = (
            compiled
            if "exceptionDetails" in compiled
            else session.send("Runtime.runScript", {"scriptId": compiled["scriptId"]})
        )
    finally:
        session.detach()
    assert "exceptionDetails" not in ran, ran["exceptionDetails"]
    # No CSS selectors for the nodes found: only their count is kept, and building a selector for
    # each node is a good part of a run on a page as large as Swagger UI's.
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations'], selectors: false})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))"
    )
    return found


def sign_in(page: Page, base_url: str, key: str, area: Literal["console", "portal"] = "console") -> None:
    """Sign in to the console (an admin key) or the portal (a partner key) through its form."""
    page.goto(f"{base_url}/{area}/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/{area}")
