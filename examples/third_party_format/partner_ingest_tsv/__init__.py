"""Tab-separated values feeds (`text/tab-separated-values`): a feed format from outside the core.

A header row names the fields (dotted names such as `dimensions.width` for
nested ones), then one product per line. Cells may not hold a tab or a line
break (IANA's definition of TSV), so they are escaped as in PostgreSQL's COPY
text format: `\\t`, `\\n`, `\\r` and `\\\\`. UTF-8, an optional byte-order mark,
LF or CRLF line endings; an empty cell is an absent field, a blank line is
skipped. Every value arrives as text, so the format is `textual`.

It uses only the public surface a plugin needs: the `hookimpl` marker, the
`FeedFormat` protocol it satisfies, and the domain's `MalformedFeedError`,
`ErrorCode`, `Location` and `FeedLimits`.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model import (
    ErrorCode,
    FeedLimits,
    Location,
    MalformedFeedError,
    Product,
    contract_for,
)
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

__all__ = ["MEDIA_TYPE", "TsvFeed", "partner_ingest_register_formats"]

MEDIA_TYPE: Final = "text/tab-separated-values"

_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
_WRITE: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@attrs.frozen
class TsvFeed:
    """A TSV document in one contract version (1: flat fields, 2: with dimensions and a sale window)."""

    version: int
    name: str = "tsv"
    media_types: tuple[str, ...] = (MEDIA_TYPE,)
    file_extensions: tuple[str, ...] = (".tab",)
    textual: bool = True

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Rows as items, each marked with its line and the document's columns."""
        lines = _lines(stream, limits.max_item_bytes)
        first = next(lines, None)
        if first is None:
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                "the feed is empty: a TSV feed starts with a header row",
                Location(line=1),
            )
        header = [_unescape(cell, 1, column) for column, cell in enumerate(first[1].split("\t"), 1)]
        if "" in header or len(set(header)) != len(header):
            raise MalformedFeedError(
                ErrorCode.MALFORMED, "line 1: header names must be unique and not empty", Location(line=1)
            )
        both = {name.partition(".")[0] for name in header if "." in name} & set(header)
        if both:
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"line 1: {sorted(both)[0]!r} is a column and also has dotted member columns",
                Location(line=1),
            )
        # One dict per document, shared by every row's marker: locate() needs no state here.
        columns = {name: position for position, name in enumerate(header, 1)}
        for number, text in lines:
            if not text:
                continue
            cells = text.split("\t")
            if len(cells) != len(header):
                raise MalformedFeedError(
                    ErrorCode.MALFORMED,
                    f"line {number}: {len(cells)} cells, but the header has {len(header)}",
                    Location(line=number),
                )
            item: dict[str, object] = {}
            for column, (name, cell) in enumerate(zip(header, cells, strict=True), 1):
                if cell:
                    _put(item, name, _unescape(cell, number, column))
            yield item, (number, columns)

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Line of the row and column of the field (1-based)."""
        line, columns = marker if isinstance(marker, tuple) else (None, {})
        return Location(
            line=line if isinstance(line, int) else None,
            column=columns.get(field) if isinstance(columns, Mapping) else None,
        )

    def render(self, products: Iterable[Product]) -> bytes:
        """A header of every field this version knows, then one row per product."""
        columns: list[tuple[str, str]] = []
        for rule in contract_for(self.version).fields:
            columns.extend((rule.name, member.name) for member in rule.fields)
            if not rule.fields:
                columns.append((rule.name, ""))
        rows = ["\t".join(f"{name}.{member}" if member else name for name, member in columns)]
        for product in products:
            rows.append("\t".join(_cell(product, name, member) for name, member in columns))
        return ("\n".join(rows) + "\n").encode("utf-8")


def _lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, str]]:
    """(line number, text without its line ending), each line read on its own: memory stays bounded."""
    number = 0
    while data := stream.readline(limit + 1):
        number += 1
        if len(data) > limit:
            raise MalformedFeedError(
                ErrorCode.ITEM_TOO_LARGE,
                f"line {number}: the row is larger than {limit} bytes",
                Location(line=number),
            )
        if number == 1 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedFeedError.not_utf8(data, error, line=number) from None
        yield number, text.removesuffix("\n").removesuffix("\r")


def _unescape(cell: str, line: int, column: int) -> str:
    if "\\" not in cell:
        return cell
    out: list[str] = []
    chars = iter(cell)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = _ESCAPES.get(next(chars, ""))
        if escaped is None:
            # A stray backslash would otherwise be read two ways by two tools: refuse it.
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"line {line}, column {column}: a backslash must start \\t, \\n, \\r or \\\\",
                Location(line=line, column=column),
            )
        out.append(escaped)
    return "".join(out)


def _put(item: dict[str, object], name: str, value: str) -> None:
    group, dot, member = name.partition(".")
    if not dot:
        item[name] = value
        return
    nested = item.setdefault(group, {})
    assert isinstance(nested, dict), "the header check keeps plain and dotted names apart"
    nested[member] = value


def _cell(product: Product, name: str, member: str) -> str:
    value: object = getattr(product, name)
    if member and value is not None:
        value = getattr(value, member)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value).translate(_WRITE)


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """tsv, in versions 1 and 2."""
    register(TsvFeed(1))
    register(TsvFeed(2))
