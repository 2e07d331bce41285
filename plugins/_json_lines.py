"""Streaming reads of JSON Lines feeds: one object per line, a line at a time (ADR 0005).

Invariant: a line longer than the item size cap is a feed error before it is decoded; every
error names its line (and column and byte offset where the decoder says); the items read
before an error are yielded first, checked for repeated member names a block of lines at a
time (ADR 0027), so a feed that fails at line n has its first n - 1 items reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

from ._json_decoder import BOM, JsonDecoder, SyntaxAt, Truncated, refuse_other_encodings

__all__ = ["read_lines_items"]

_LINES_BLOCK: Final = 256
"""Lines of a JSON Lines feed checked for repeated names at once."""


def read_lines_items(
    stream: BinaryIO, limits: FeedLimits, decoder: JsonDecoder
) -> Iterator[tuple[object, int]]:
    """Items of a JSON Lines feed (one object per line) with their line numbers; blank
    lines are skipped."""
    limit = limits.max_item_bytes
    size = limit + 2
    readline = stream.readline
    # Lines are checked for repeated names a block at a time (see JsonDecoder.checked).
    decode, bare = decoder.decode_unchecked, decoder.decode_bare
    lines: list[bytes] = []
    values: list[object] = []
    numbers: list[int] = []
    number = 0
    offset = 0
    """Where the next line starts in the document."""
    while True:
        if len(lines) >= _LINES_BLOCK:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            lines, values, numbers = [], [], []
        line = readline(size)
        if not line:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            return
        number += 1
        length = len(line)
        offset += length
        if length > limit and not line.endswith(b"\n"):
            raise MalformedFeedError(
                ErrorCode.ITEM_TOO_LARGE,
                f"line {number} is longer than {limit} bytes",
                Location(line=number),
            )
        if number == 1:
            refuse_other_encodings(line)
            if line.startswith(BOM):
                line = line[len(BOM) :]
        try:
            value = bare(line)
        except Exception:
            # A blank line is skipped; it is only looked for here, where msgspec refused the
            # line (as it refuses whitespace alone): not every line pays for the test.
            if line.isspace():
                continue
            try:  # decoded again, for the error as the readers take it
                try:
                    value = decode(line)
                except Truncated:
                    # msgspec reports a lone surrogate as truncation: the exact decoder names it.
                    value = decoder.decode_exactly(line)
            except (Truncated, MalformedFeedError) as error:
                yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
                # The line starts where the bytes read before it end (after a byte order mark).
                raise _line_error(error, number, offset - len(line)) from None
        lines.append(line)
        values.append(value)
        numbers.append(number)


def _line_error(error: Truncated | MalformedFeedError, number: int, starts: int) -> MalformedFeedError:
    """What decoding line `number` (at byte `starts`) raised, as the feed error that names the line."""
    if isinstance(error, Truncated):
        return MalformedFeedError(
            ErrorCode.MALFORMED, f"line {number} is not a complete JSON value", Location(line=number)
        )
    if isinstance(error, SyntaxAt):
        column, offset = error.at + 1, starts + error.at
        return MalformedFeedError(
            ErrorCode.MALFORMED,
            f"line {number}, column {column}: {error.error.message} (at byte {offset})",
            Location(line=number, column=column, offset=offset),
        )
    return MalformedFeedError(
        error.error.code, f"line {number}: {error.error.message}", Location(line=number)
    )


def _checked_lines(
    decoder: JsonDecoder, lines: list[bytes], values: list[object], numbers: list[int]
) -> list[object]:
    """The `values` decoded unchecked from `lines`, each decoded again exactly if it may hide
    a repeated member name: the whole block is counted at once, then each line if need be."""
    if not lines or decoder.kept_every_name(b"".join(lines), values):
        return values
    checked = []
    for line, value, number in zip(lines, values, numbers, strict=True):
        try:
            checked.append(decoder.checked(line, value))
        except MalformedFeedError as error:  # pragma: no cover - the line was read once already
            raise MalformedFeedError(
                error.error.code, f"line {number}: {error.error.message}", Location(line=number)
            ) from None
    return checked
