"""A format plugin declares its file extensions (the CLI guesses a file's format from them) and
its media types (documented in /openapi.json for every route that takes a feed)."""

from __future__ import annotations

import attrs
import partner_ingest_tsv
from partner_ingest_tsv import MEDIA_TYPE, TsvFeed
from support.http import TestClient

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.http import create_app
from partner_ingest.plugins import hookimpl, load_formats
from partner_ingest.ports.formats import FormatRegistrar, format_for_file


@attrs.frozen
class CsvLookalike(TsvFeed):
    """A plugin format that claims the built-in csv's extension."""

    name: str = "csv-lookalike"
    file_extensions: tuple[str, ...] = (".csv",)
    media_types: tuple[str, ...] = ("text/x-lookalike",)


class LookalikePlugin:
    @hookimpl
    def partner_ingest_register_formats(self, register: FormatRegistrar) -> None:
        register(CsvLookalike(1))


def test_the_built_in_formats_declare_their_extensions() -> None:
    formats = load_formats()  # Merchant Center's and Shopify's formats come through entry points
    guesses = {
        name: format_for_file(formats, name)
        for name in ("a.json", "b.JSONL", "c.ndjson", "d.csv", "e.xml", "f.tsv")
    }
    assert guesses == {
        "a.json": "json",
        "b.JSONL": "jsonl",
        "c.ndjson": "jsonl",
        "d.csv": "csv",
        "e.xml": "xml",
        "f.tsv": "gmc-tsv",
    }
    assert format_for_file(formats, "notes.txt") is None


def test_a_plugins_extension_is_guessed_and_one_two_formats_claim_guesses_neither() -> None:
    formats = load_formats(plugins=[partner_ingest_tsv], entry_points=False)
    assert format_for_file(formats, "catalog.tab") == "tsv"
    claimed_twice = load_formats(plugins=[LookalikePlugin()], entry_points=False)
    assert format_for_file(claimed_twice, "catalog.csv") is None


def test_a_plugins_media_types_are_documented_for_every_route_that_takes_a_feed() -> None:
    app, _, _ = bootstrap.in_memory(formats=load_formats(plugins=[partner_ingest_tsv]))
    with TestClient(create_app(app)) as client:
        document = client.get("/openapi.json").json()
    for path in ("/partner/ingest", "/partner/validate"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert MEDIA_TYPE in content and "text/vnd.shopify.products+csv" in content, path
    plain, _, _ = bootstrap.in_memory(formats=load_formats())
    with TestClient(create_app(plain)) as client:
        document = client.get("/openapi.json").json()
    assert MEDIA_TYPE not in document["paths"]["/partner/ingest"]["post"]["requestBody"]["content"]
