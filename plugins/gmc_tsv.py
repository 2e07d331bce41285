"""Google Merchant Center product feeds as tab-separated text (`gmc-tsv`).

A header row names the attributes, then one product per line. Header names may
be written as Merchant Center's own tab-delimited template writes them: the
attribute (`image_link`), its English name (`image link`), or both
(`Image link [image_link]`); case does not matter, a `g:` prefix is dropped.
Values follow Merchant Center's "quoted fields": a value in double quotes may
hold tabs and line breaks, a quote inside it doubled. UTF-8 with or without a
byte-order mark, LF or CRLF; an empty cell is an absent attribute. The
attributes become canonical fields as `_merchant_center.py` says (the table is
in docs/foreign-formats.md and in the contract). Errors name the line and the
column of the attribute behind the field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_source import FeedContext, FormatMapping
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, Location
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._csv_lines import delimited_rows
from ._merchant_center import MAPPING, Converter, attributes_of, source_of

__all__ = ["GmcTsvFeed", "attribute_name", "partner_ingest_register_formats"]

_BRACKETED: Final = re.compile(r".*\[\s*([^\]]+?)\s*\]\s*")


def attribute_name(header: str) -> str:
    """`Image link [image_link]`, `image link`, `g:image_link` -> image_link."""
    found = _BRACKETED.fullmatch(header)
    name = (found.group(1) if found else header).strip().lower()
    return name.removeprefix("g:").replace(" ", "_")


@attrs.frozen
class GmcTsvFeed:
    """A Merchant Center tab-separated feed in one contract version."""

    version: int
    context: FeedContext | None = None
    """The partner whose feed is read (its currency stands in for a price without a code)."""
    name: str = "gmc-tsv"
    media_types: tuple[str, ...] = ("text/vnd.google.merchant-center+tsv",)
    file_extensions: tuple[str, ...] = (".tsv",)
    textual: bool = True

    def for_partner(self, context: FeedContext) -> GmcTsvFeed:
        """This format reading `context`'s partner's feeds."""
        return attrs.evolve(self, context=context)

    @property
    def mapping(self) -> FormatMapping:
        """Merchant Center attribute -> canonical field."""
        return MAPPING

    def sample(self) -> bytes:
        """A tab-separated feed written from the specification, with the edge cases partners send."""
        return resources.files(__package__).joinpath("samples/gmc-tsv.tsv").read_bytes()

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Rows as items, each marked with its line, the document's columns and whether it gave a quantity."""
        rows = delimited_rows(stream, limits, delimiter="\t", kind="Merchant Center TSV")
        _, cells = next(rows)
        header = [attribute_name(cell) for cell in cells]
        if "" in header or len(set(header)) != len(header):
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                "line 1: attribute names must be unique and not empty",
                Location(line=1),
            )
        # One dict per document, shared by every row's marker: locate() needs no state here.
        columns = {name: position for position, name in enumerate(header, 1)}
        convert = Converter(self.version, self.context.currency if self.context else None).item
        for line, row in rows:
            item, quantity_given = convert(
                {key: value for key, value in zip(header, row, strict=True) if value}
            )
            yield item, (line, columns, quantity_given)

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Line of the row and column of the attribute behind the field (1-based)."""
        line, columns, quantity_given = marker if isinstance(marker, tuple) else (None, {}, False)
        column = None
        if field and isinstance(columns, Mapping):
            column = columns.get(source_of(field, bool(quantity_given)))
        return Location(line=line if isinstance(line, int) else None, column=column)

    def render(self, products: Iterable[Product]) -> bytes:
        """A header of every attribute the products use, then one row per product (quoted fields)."""
        rows = [dict(attributes_of(product, self.version)) for product in products]
        header: dict[str, None] = {}
        for row in rows:
            header.update(dict.fromkeys(row))
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter="\t", lineterminator="\r\n")
        writer.writerow(header or ["id"])
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
        return out.getvalue().encode("utf-8")


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """gmc-tsv, in versions 1 and 2."""
    for version in (1, 2):
        register(GmcTsvFeed(version))
