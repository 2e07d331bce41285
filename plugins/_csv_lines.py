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
from typing import BinaryIO, Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

__all__ = ["CsvLines", "csv_error", "delimited_rows", "header_problem", "wrong_width"]

_DELIMITERS: Final = {";": "semicolon", "\t": "tab", "|": "vertical bar"}


def csv_error(error: csv.Error, lines: CsvLines, reader_line: int) -> MalformedFeedError:
    """`csv.Error` as a located feed error, with how to fix it. An unclosed quote is reported
    at the physical line where the quoted cell (its row) starts, not at the end of the file."""
    message = str(error)
    code = ErrorCode.MALFORMED
    line, hint = reader_line, None
    if "field larger" in message:
        code = ErrorCode.FIELD_TOO_LARGE
    elif "new-line character seen in unquoted field" in message:
        message = "a bare carriage return (CR) ends a line; use CRLF or LF line endings"
    elif "unexpected end of data" in message:
        line = lines.row_start
        message = "a quoted cell that starts on this line is never closed"
        hint = 'close the quote; a quote inside a quoted cell is written twice ("")'
    elif "expected after" in message:  # '"' then something else inside a quoted cell
        line = lines.row_start
        hint = 'a quote inside a quoted cell is written twice (""), and a cell with a quote in it is quoted'
    return MalformedFeedError(code, f"line {line}: {message}", Location(line=line), hint)


def header_problem(header: list[str], delimiter: str, kind: str) -> MalformedFeedError | None:
    """A header that shows the document is not this format as sent: one column holding
    another delimiter (a semicolon-separated export), or a JSON or XML document."""
    cell = header[0].lstrip("\ufeff ") if header else ""
    if cell.startswith(("{", "[", "<")):
        other = "XML" if cell.startswith("<") else "JSON"
        return MalformedFeedError(
            ErrorCode.MALFORMED,
            f"line 1: the body looks like {other}, not {kind}",
            Location(line=1),
            f"send it with the Content-Type of {other} (application/{other.lower()}), or export it as {kind}",
        )
    if len(header) != 1:
        return None
    for other, name in _DELIMITERS.items():
        if other != delimiter and cell.count(other) >= 1:
            shown = "\\t" if other == "\t" else other
            return MalformedFeedError(
                ErrorCode.MALFORMED,
                f"line 1: the header is a single column; the document looks separated by {name}s ({shown!r})",
                Location(line=1, column=1),
                f"{kind} feeds separate cells with {_named(delimiter)}: export with {_named(delimiter)} as the separator",
            )
    return None


def _named(delimiter: str) -> str:
    return {",": "commas (',')", "\t": "tabs"}.get(delimiter, repr(delimiter))


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
                raise _wrong_width(start, len(row), width, delimiter)
            yield start, row
    except csv.Error as error:
        raise csv_error(error, lines, reader.line_num) from None
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


def _wrong_width(line: int, cells: int, width: int, delimiter: str) -> MalformedFeedError:
    """A row of another width than the header, with the likely cause."""
    hint = (
        f'a value containing {_named(delimiter)} must be quoted ("a{delimiter}b")'
        if cells > width
        else "every row has one cell per header column; leave a cell empty rather than dropping it"
    )
    return MalformedFeedError(
        ErrorCode.MALFORMED,
        f"line {line}: {cells} cells, but the header has {width}",
        Location(line=line),
        hint,
    )


def wrong_width(line: int, cells: int, width: int, delimiter: str = ",") -> MalformedFeedError:
    """`_wrong_width`, for the formats that read rows themselves."""
    return _wrong_width(line, cells, width, delimiter)
