"""Every hook a plugin can implement has a docstring and a section in the plugin guide
(as datasette's tests/test_docs.py does): an undocumented hook fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from partner_ingest.ports import hookspecs

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, f"{hookspecs.PROJECT_NAME}_spec")
)


def test_the_hookspec_module_declares_hooks() -> None:
    assert HOOKS, "no function in ports/hookspecs.py carries the hookspec marker"
    assert set(HOOKS) <= set(hookspecs.__all__), "every hook is part of the module's public API"


@pytest.mark.parametrize("hook", HOOKS)
def test_a_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and doc.strip(), f"hook {hook} in ports/hookspecs.py has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_a_hook_has_a_section_in_the_plugin_guide(hook: str) -> None:
    headings = re.findall(r"^#+ .*$", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert any(f"`{hook}" in heading for heading in headings), (
        f"docs/plugins.md has no heading naming `{hook}`: document every hook a plugin can implement"
    )
