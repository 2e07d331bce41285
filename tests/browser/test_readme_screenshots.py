"""The README's screenshots (docs/screenshots/) are copies of what a browser test shoots: `visit` shoots
those pages whole and every other page as far as the window shows, so a page the README shows must still
be visited under its file's name, or its copy would go stale unnoticed."""

from __future__ import annotations

from pathlib import Path

from support.browser import README_SCREENSHOTS


def test_every_page_the_readme_shows_is_visited_by_a_browser_test_under_its_name() -> None:
    sources = "".join(path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py"))
    shown = sorted(path.stem for path in README_SCREENSHOTS.glob("*.png"))
    assert shown, README_SCREENSHOTS
    assert [name for name in shown if f'visit("{name}"' not in sources] == []
