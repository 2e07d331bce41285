"""The scenario catalog names real code and real tests (docs/quality-scenarios.md).

A catalog that cites a renamed test proves nothing: every `path` and every
`path::test_name` it quotes in backticks must exist, and every ADR it links must
be a file.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "docs" / "quality-scenarios.md"
FOLDERS = (
    "domain",
    "ports",
    "adapters_in",
    "adapters_out",
    "plugins",
    "testing",
    "tests",
    "examples",
    "benchmarks",
    "docs",
)
_QUOTED = re.compile(r"`([^`\s]+)`")
_LINK = re.compile(r"\]\((ADR/[^)]+)\)")


def _cited() -> list[str]:
    return [
        text
        for text in _QUOTED.findall(CATALOG.read_text())
        if text.split("/", 1)[0] in FOLDERS and "/" in text
    ]


@functools.cache  # the catalog cites some files dozens of times; parsing each once saves seconds
def _test_names(path: Path) -> set[str]:
    """Top-level functions and classes, and `Class::method` (the kits' suites are classes)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return names


def test_the_catalog_cites_paths_and_tests() -> None:
    assert len(_cited()) > 50, "the catalog should name the code and tests of every scenario"


def test_every_cited_path_and_test_exists() -> None:
    missing = []
    for citation in _cited():
        path_text, _, test = citation.partition("::")
        path = ROOT / path_text
        if not path.exists() or (test and test not in _test_names(path)):
            missing.append(citation)
    assert not missing, f"docs/quality-scenarios.md cites what does not exist: {missing}"


def test_every_linked_adr_exists() -> None:
    links = _LINK.findall(CATALOG.read_text())
    assert links
    assert [link for link in links if not (CATALOG.parent / link).is_file()] == []
