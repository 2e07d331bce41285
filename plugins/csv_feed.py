"""Built-in CSV format: a header row naming the fields, one product per row.

Nested fields use dotted headers (`dimensions.width`). Locations are physical lines (what
an editor shows; a row with a quoted line break is located at the line it starts on) and
cells (1-based, the header's position of the field). UTF-8, with or without
a byte-order mark; quoting as in RFC 4180; CRLF or LF line endings. Every value arrives as text, so the
format is `textual`: "12.50" in a price column is a number here, even in
strict mode. An empty cell is an absent field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

import attrs

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_mode import DELETE_FIELD
from partner_ingest.domain.model.hints import closest
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, Location
from partner_ingest.domain.model.rules import contract_for
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._csv_lines import CsvLines, csv_error, header_problem, wrong_width
from ._items import product_item

__all__ = ["CsvFeed", "partner_ingest_register_formats"]


def _cell(value: object) -> str:
    return "" if value is None else str(value)


@attrs.frozen
class CsvFeed:
    """CSV with a header row; dotted headers for nested fields."""

    version: int
    name: str = "csv"
    media_types: tuple[str, ...] = ("text/csv", "application/csv")
    file_extensions: tuple[str, ...] = (".csv",)
    textual: bool = True
    whole_items: bool = True
    """Every row a whole product, so a header without a required field's column is the feed's
    error (said once); False for a patch feed, whose rows carry only what changes."""

    def for_patches(self) -> CsvFeed:
        """This format reading a patch feed: a header may leave required fields out."""
        return attrs.evolve(self, whole_items=False)

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Rows as items, each with the line it starts on."""
        lines = CsvLines(stream, limits)
        reader = csv.reader(lines, strict=True)
        try:
            yield from self._rows(reader, lines, limits)
        except csv.Error as error:
            raise csv_error(error, lines, reader.line_num) from None

    def _rows(self, reader: Iterator[list[str]], lines: CsvLines, limits: FeedLimits) -> Iterator[RawItem]:
        header = next(reader, None)
        if header is None:
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                "the feed is empty: a CSV feed starts with a header row",
                Location(line=1),
            )
        header = [h.strip() for h in header]
        problem = header_problem(header, ",", "CSV")
        if problem is not None:
            raise problem
        if len(set(header)) != len(header) or "" in header:
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                "line 1: header names must be unique and not empty",
                Location(line=1),
            )
        # A row deleting its SKU needs no other field; a patch row carries only what changes.
        if self.whole_items and DELETE_FIELD not in header:
            self._check_columns(header)
        width = len(header)
        # The marker of every row carries this document's columns, so that locate()
        # needs no state on this (shared, thread-safe) format object.
        columns = {name: position + 1 for position, name in enumerate(header)}
        nested: dict[str, list[tuple[str, str]]] = {}
        for name in header:
            if "." in name:
                group, member = name.split(".", 1)
                nested.setdefault(group, []).append((member, name))
        max_field = limits.max_field_chars
        lines.next_row()
        for row in reader:
            start = lines.row_start
            if lines.row_chars > max_field:
                # Only a row longer than the cap can hold a cell longer than the cap.
                for position, cell in enumerate(row):
                    if len(cell) > max_field:
                        raise MalformedFeedError(
                            ErrorCode.FIELD_TOO_LARGE,
                            f"line {start}: the cell in column {position + 1} is longer than {max_field} characters",
                            Location(line=start, column=position + 1),
                        )
            lines.next_row()
            if len(row) != width:
                if not row:
                    continue  # a blank line
                raise wrong_width(start, len(row), width)
            item: dict[str, object] = {key: value for key, value in zip(header, row, strict=True) if value}
            if nested:
                for group, members in nested.items():
                    sub = {member: item.pop(name) for member, name in members if name in item}
                    if sub:
                        item[group] = sub
            yield item, (start, columns)

    def _check_columns(self, header: list[str]) -> None:
        """Every required field has a column: a missing one is the header's error, said once
        (and not once per row), with the column that was probably meant."""
        present = {name.split(".", 1)[0] for name in header}
        contract = contract_for(self.version)
        missing = [rule.name for rule in contract.fields if rule.required and rule.name not in present]
        if not missing:
            return
        unknown = [name for name in header if name.split(".", 1)[0] not in contract.field_names]
        guesses = []
        for name in missing:
            guess = closest(name, unknown)
            if guess is not None:
                guesses.append(f"column {guess!r} is probably {name!r}")
        hint = "; ".join(guesses) or "add a column for " + ", ".join(missing)
        raise MalformedFeedError(
            ErrorCode.MISSING_COLUMN,
            f"line 1: the header has no column for the required field{'s' if len(missing) > 1 else ''} "
            + ", ".join(missing),
            Location(line=1),
            hint,
        )

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Line of the row and column of the field (1-based)."""
        line, columns = cast("tuple[int, dict[str, int]]", marker)
        return Location(line=line, column=columns.get(field))

    def render(self, products: Iterable[Product]) -> bytes:
        """Header of every field this version knows, then one row per product."""
        columns: list[str] = []
        for rule in contract_for(self.version).fields:
            if rule.fields:
                columns.extend(f"{rule.name}.{member.name}" for member in rule.fields)
            else:
                columns.append(rule.name)
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for product in products:
            item = product_item(product, self.version)
            row = []
            for column in columns:
                group, _, member = column.partition(".")
                value = item.get(group)
                if member:
                    value = value.get(member) if isinstance(value, dict) else None
                row.append(_cell(value))
            writer.writerow(row)
        return out.getvalue().encode("utf-8")


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """csv, in versions 1 and 2."""
    for version in (1, 2):
        register(CsvFeed(version))
