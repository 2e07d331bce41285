"""docs/foreign-formats.md tells the truth: its mapping tables are the published mappings, row for row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from partner_ingest.domain.model import FormatMapping
from partner_ingest.plugins import load_formats

DOC = (Path(__file__).resolve().parents[2] / "docs" / "foreign-formats.md").read_text()
TABLES = {"gmc-xml": "gmc-xml", "gmc-tsv": "gmc-xml", "shopify-csv": "shopify-csv"}
"""Format -> the table it is published in (both Merchant Center formats share one)."""


def _table(name: str) -> list[tuple[str, str, str]]:
    found = re.search(rf"<!-- mapping-table: {re.escape(name)} -->\n((?:\|.*\n)+)", DOC)
    assert found is not None, f"docs/foreign-formats.md has no mapping table for {name}"
    rows = []
    for line in found.group(1).splitlines()[2:]:
        source, fields, note = (cell.strip() for cell in line.strip("|").split(" | "))
        rows.append((source, fields, note))
    return rows


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_table_is_the_published_mapping(name: str) -> None:
    mapping: FormatMapping = load_formats().get(name, 2).mapping  # type: ignore[attr-defined]
    expected = [
        (f"`{a.source}`", ", ".join(f"`{f}`" for f in a.fields) or "no canonical field", a.note)
        for a in mapping.attributes
    ]
    assert _table(TABLES[name]) == expected


def test_every_format_of_the_doc_is_registered_with_its_media_types() -> None:
    formats = load_formats()
    for name in TABLES:
        for media_type in formats.get(name, 2).media_types:
            assert f"`{media_type}`" in DOC, media_type
