"""Delimited text read line by line for `csv.reader`: the CSV format's reader, shared with the
tab-separated Merchant Center feed and Shopify's CSV export.

`CsvLines` bounds memory and names the line of an encoding error (see its docstring);
`delimited_rows` adds what every delimited format here does around `csv.reader`: the
header row, a cell over `max_field_chars`, a row of the wrong width, `csv.Error` as a
located feed error.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from typing import BinaryIO

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

__all__ = ["CsvLines", "delimited_rows"]


def delimited_rows(
    stream: BinaryIO, limits: FeedLimits, *, delimiter: str, kind: str
) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, its cells) for the header row (line 1) and every row after it
    that is not blank; the caller checks the header's names."""
    lines = CsvLines(stream, limits, kind)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    max_field = limits.max_field_chars
    width = -1
    try:
        for row in reader:
            start = lines.row_start
            if lines.row_chars > max_field:
                for position, cell in enumerate(row):
                    if len(cell) > max_field:
                        raise MalformedFeedError(
                            ErrorCode.FIELD_TOO_LARGE,
                            f"line {start}: the cell in column {position + 1} is longer than {max_field} characters",
                            Location(line=start, column=position + 1),
                        )
            lines.next_row()
            if width < 0:
                width = len(row)
            elif len(row) != width:
                if not row:
                    continue  # a blank line
                raise MalformedFeedError(
                    ErrorCode.MALFORMED,
                    f"line {start}: {len(row)} cells, but the header has {width}",
                    Location(line=start),
                )
            yield start, row
    except csv.Error as error:
        line = reader.line_num
        message = str(error)
        code = ErrorCode.MALFORMED
        if "field larger" in message:
            code = ErrorCode.FIELD_TOO_LARGE
        elif "new-line character seen in unquoted field" in message:
            message = "a bare carriage return (CR) ends a line; use CRLF or LF line endings"
        raise MalformedFeedError(code, f"line {line}: {message}", Location(line=line)) from None
    if width < 0:
        raise MalformedFeedError(
            ErrorCode.MALFORMED,
            f"the feed is empty: a {kind} feed starts with a header row",
            Location(line=1),
        )


class CsvLines:
    """The document's physical lines, decoded one by one for csv.reader.

    Reading line by line (not through a TextIOWrapper) bounds memory, since no
    line and no row may grow past `max_item_bytes` however the document is
    quoted, and it lets an encoding error name its exact line and column.
    """

    def __init__(self, stream: BinaryIO, limits: FeedLimits, kind: str = "CSV") -> None:
        self._kind = kind
        self._readline = stream.readline
        self._limit = limits.max_item_bytes
        self.number = 0
        """Physical lines read so far."""
        self.row_start = 1
        """Line the row being read starts on."""
        self.row_chars = 0
        """Characters read for that row."""

    def next_row(self) -> None:
        """The reader has a whole row: the next line starts the next one."""
        self.row_start = self.number + 1
        self.row_chars = 0

    def __iter__(self) -> Iterator[str]:
        # A generator, not a __next__ method: csv.reader resumes it from C, where a method
        # would be looked up and called as a Python function for every line.
        return self._lines()

    def _lines(self) -> Iterator[str]:
        readline, limit = self._readline, self._limit
        while data := readline(limit + 1):
            self.number += 1
            if self.number == 1:
                data = _first_line(data, self._kind)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise MalformedFeedError.not_utf8(data, error, line=self.number) from None
            self.row_chars += len(text)
            if len(data) > limit or self.row_chars > limit:
                raise MalformedFeedError(
                    ErrorCode.ITEM_TOO_LARGE,
                    f"line {self.row_start}: the row is larger than {limit} bytes",
                    Location(line=self.row_start),
                )
            yield text


def _first_line(data: bytes, kind: str) -> bytes:
    """The first line without its UTF-8 byte-order mark; an error for a UTF-16/32 document."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data:
        raise MalformedFeedError(
            ErrorCode.ENCODING,
            f"line 1: the feed looks like UTF-16 or UTF-32 (byte-order mark or NUL bytes); {kind} feeds are UTF-8",
            Location(line=1),
        )
    return data
