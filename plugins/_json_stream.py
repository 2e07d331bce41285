"""Streaming reads of JSON feeds: one item decoded at a time, in bounded memory.

Neither the standard library nor msgspec can decode part of a document, so
this reader finds where each item ends and decodes just that slice:

- A candidate end is the next closing brace at which the counts of `{` and `}`
  since the item's start balance. Decoding the slice up to it either succeeds,
  which proves it is the item's real end (JSON is read left to right, so a
  prefix that is a complete value is the value), or reports truncation (the
  brace was inside a string), and the next candidate is tried.
- After a few failed candidates (braces in strings, adversarial input) it falls
  back to the standard library's `raw_decode`, which finds the end exactly.

The slice length is the item's size, so `max_item_bytes` costs nothing to check.

A member name repeated in one object (`{"sku": "A", "sku": "B"}`) must not let
the last one win without a word (ADR 0027). Both decoders build objects in C,
keeping the last; `JsonDecoder.checked` then counts the names in the bytes
against the members decoded (_json_names.py), a whole batch or a block of
lines at a time, and only a slice where they differ is decoded again by the
standard library with an object hook that puts an `UnreadableValue` in place
of a repeated name's value, which the validator reports as `duplicate_key`.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.hints import looks_like
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

from ._json_names import (
    members,
    members_at_least,
    names_at_most,
    object_hook,
    refuse_lone_surrogates,
)

__all__ = ["JsonDecoder", "read_document_items", "read_lines_items"]

_CHUNK: Final = 1 << 20
_MAX_CANDIDATES: Final = 16
_WHITESPACE: Final = re.compile(rb"[ \t\r\n]*")
_SCALAR_END: Final = re.compile(rb"[^,\]} \t\r\n]*")
_BOM: Final = codecs.BOM_UTF8
_CLOSERS: Final = {ord("{"): ord("}"), ord("["): ord("]"), ord('"'): ord('"')}
_SPACE: Final = frozenset(b" \t\r\n")
_CLOSE_BRACKET: Final = ord("]")
_UNKNOWN, _NEXT_ITEM, _ARRAY_CLOSED = 0, 1, 2
# Where an item of the products array can end: a closing brace followed by the
# next item or by the end of the array (never true of a nested object's brace).
_ITEM_END: Final = re.compile(rb"\}[ \t\r\n]*(?:,[ \t\r\n]*\{|\])")
_LINES_BLOCK: Final = 256
"""Lines of a JSON Lines feed checked for repeated names at once."""


def _refuse_other_encodings(head: bytes) -> None:
    """Refuse a UTF-16 or UTF-32 document up front (RFC 8259: JSON on the wire is UTF-8).

    Without this a UTF-16 feed would fail as "not an object" at byte 0, which
    sends the partner looking for a syntax error that is not there. The test is
    RFC 4627's: a BOM, or a NUL among the first bytes (ASCII JSON never has one).
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or 0 in head[:4]:
        raise MalformedFeedError(
            ErrorCode.ENCODING,
            "the feed looks like UTF-16 or UTF-32: JSON feeds must be UTF-8",
            Location(offset=0),
        )


class _Truncated(Exception):
    """The slice ends before the value does."""


class _SyntaxAt(MalformedFeedError):
    """A syntax error `at` bytes into the decoded data; the reader turns it into a line, a
    column and a document offset (both decoders say where, each in its own way)."""

    def __init__(self, message: str, at: int) -> None:
        super().__init__(ErrorCode.MALFORMED, message)
        self.at = at


_MSGSPEC_AT: Final = re.compile(r"\s*\(byte (\d+)\)$")


def _stdlib_syntax(error: json.JSONDecodeError, text: str) -> _SyntaxAt:
    return _SyntaxAt(f"invalid JSON: {error.msg}", len(text[: error.pos].encode("utf-8")))


def _too_long(kind: str, limit: int) -> MalformedFeedError:
    return MalformedFeedError(
        ErrorCode.NUMBER_TOO_LONG, f"a {kind} in the feed is longer than {limit} characters"
    )


class JsonDecoder:
    """Decodes one complete JSON value from bytes: numbers with a fraction or an exponent
    as exact Decimals, NaN and Infinity refused, number length capped."""

    def __init__(
        self, limits: FeedLimits, *, prefer_msgspec: bool = True, nested: tuple[str, ...] = ()
    ) -> None:
        """`nested`: the fields that hold objects in a valid item (`dimensions`), which the
        repeated-name check counts cheaply."""
        cap = limits.max_number_chars
        self._nested = nested

        def to_decimal(text: str) -> Decimal:
            if len(text) > cap:
                raise _too_long("number", cap)
            try:
                return Decimal(text)
            except InvalidOperation:  # an exponent past Decimal's range (1e99999999999999999999)
                raise MalformedFeedError(
                    ErrorCode.NUMBER_TOO_LONG, f"the number {text!r} in the feed is out of range"
                ) from None

        def to_int(text: str) -> int:
            if len(text) > cap:
                raise _too_long("number", cap)
            return int(text)

        def refuse(name: str) -> object:
            raise MalformedFeedError(ErrorCode.MALFORMED, f"{name} is not a JSON number")

        # Two standard-library decoders: the plain one builds objects in C, the exact one sees
        # every member (a Python call per object) and marks repeated names.
        self._stdlib_plain = json.JSONDecoder(parse_float=to_decimal, parse_int=to_int, parse_constant=refuse)
        self._stdlib = json.JSONDecoder(
            parse_float=to_decimal, parse_int=to_int, parse_constant=refuse, object_pairs_hook=object_hook
        )
        self.decode_unchecked: Callable[[bytes], object] = functools.partial(
            self._decode_stdlib, decoder=self._stdlib_plain
        )
        """`data` decoded, a repeated member name not looked for (see `checked`)."""
        self.uses_msgspec = False
        if prefer_msgspec:
            try:
                import msgspec
            except ImportError:  # pragma: no cover - exercised by the no-msgspec CI leg
                pass
            else:
                self._msgspec_decode = msgspec.json.Decoder(float_hook=to_decimal).decode
                self._msgspec_error = msgspec.DecodeError
                self.decode_unchecked = self._decode_msgspec
                self.uses_msgspec = True

    def decode(self, data: bytes) -> object:
        """One complete JSON value, each repeated member name's value marked (see `_object`)."""
        return self.checked(data, self.decode_unchecked(data))

    def checked(self, data: bytes, value: object) -> object:
        """`value`, decoded from `data` by `decode_unchecked`, or `data` decoded again exactly
        when a repeated member name may have been dropped."""
        if value.__class__ is not dict and value.__class__ is not list:
            return value
        if self.kept_every_name(data, value if value.__class__ is list else [value]):
            return value
        return self._decode_stdlib(data)

    def kept_every_name(self, data: bytes, values: list[object]) -> bool:
        """Whether `values` (the items of an array, or values side by side), decoded from
        `data`, hold every member name `data` has."""
        found = members_at_least(values, self._nested)
        if data.count(b":") == found:  # every colon ends a name (no URL, no time of day in text)
            return True
        names = names_at_most(data)
        return found == names or members(values) == names

    def _decode_msgspec(self, data: bytes) -> object:
        try:
            return self._msgspec_decode(data)
        except self._msgspec_error as error:
            message = str(error)
            if message.startswith("Input data was truncated"):
                raise _Truncated from None
            if "out of range" in message:
                raise MalformedFeedError(
                    ErrorCode.NUMBER_TOO_LONG, f"a number in the feed is out of range: {message}"
                ) from None
            if "utf-8" in message.lower():
                raise MalformedFeedError(ErrorCode.ENCODING, "the feed is not valid UTF-8") from None
            at = _MSGSPEC_AT.search(message)
            if at is not None:
                # msgspec's byte is sometimes one past the culprit; the standard library's
                # position is exact, and asking it costs nothing on the happy path.
                raise self._exactly_where(
                    data, f"invalid JSON: {message[: at.start()]}", int(at.group(1))
                ) from None
            raise MalformedFeedError(ErrorCode.MALFORMED, f"invalid JSON: {message}") from None
        except RecursionError:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP, "the document is nested too deeply to read"
            ) from None

    def _exactly_where(self, data: bytes, message: str, at: int) -> _SyntaxAt:
        try:
            self._decode_stdlib(data)
        except _SyntaxAt as exact:
            return _SyntaxAt(message, exact.at)
        except (MalformedFeedError, _Truncated):
            pass
        return _SyntaxAt(message, at)

    def _decode_stdlib(self, data: bytes, decoder: json.JSONDecoder | None = None) -> object:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedFeedError(ErrorCode.ENCODING, "the feed is not valid UTF-8") from None
        try:
            # raw_decode reads from the first byte; a line may start with whitespace.
            start = len(text) - len(text.lstrip(" \t\r\n")) if text[:1].isspace() else 0
            value, end = (decoder or self._stdlib).raw_decode(text, start)
        except json.JSONDecodeError as error:
            if error.pos >= len(text) or error.msg.startswith("Unterminated string"):
                raise _Truncated from None
            raise _stdlib_syntax(error, text) from None
        except RecursionError:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP, "the document is nested too deeply to read"
            ) from None
        # JSON's whitespace only: str.strip() would also take \x1c-\x1f and \x85, which msgspec refuses.
        rest = text[end:]
        if end != len(text) and rest.strip(" \t\r\n"):
            extra = end + len(rest) - len(rest.lstrip(" \t\r\n"))
            raise _SyntaxAt("invalid JSON: extra data after a value", len(text[:extra].encode("utf-8")))
        refuse_lone_surrogates(data, value)
        return value

    def decode_exactly(self, data: bytes) -> object:
        """`decode` by the standard library, whose errors are the most precise."""
        return self._decode_stdlib(data)

    def raw_decode_prefix(self, text: str) -> tuple[object, int]:
        """Exact end of the first value in `text` (characters); the slow, sure path."""
        try:
            value, end = self._stdlib.raw_decode(text)
            refuse_lone_surrogates(text[:end], value)
            return value, end
        except json.JSONDecodeError as error:
            if error.pos >= len(text) or error.msg.startswith("Unterminated string"):
                raise _Truncated from None
            raise _stdlib_syntax(error, text) from None
        except RecursionError:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP, "the document is nested too deeply to read"
            ) from None


class _Reader:
    """A byte buffer over the stream that is refilled as the cursor moves on."""

    def __init__(self, stream: BinaryIO, limits: FeedLimits, decoder: JsonDecoder) -> None:
        self.stream = stream
        self.limits = limits
        self.decoder = decoder
        self.buf = b""
        self.pos = 0
        self.base = 0
        """Absolute offset of buf[0] in the document."""
        self.eof = False
        self.after_item = _UNKNOWN
        """What `item()` saw after the item it read (saves re-reading the separator)."""
        self.lines = 0
        """Line breaks in the part of the document dropped from `buf` (for error locations)."""
        self.line_start = 0
        """Offset of the first byte after the last of those line breaks."""

    def more(self) -> int:
        """Read the next chunk, dropping what is behind the cursor; returns the shift in
        buffer positions (-1 at end of stream)."""
        if self.eof:
            return -1
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return -1
        shift = self.pos
        breaks = self.buf.count(b"\n", 0, shift)  # one C pass per chunk: line numbers for errors
        if breaks:
            self.lines += breaks
            self.line_start = self.base + self.buf.rfind(b"\n", 0, shift) + 1
        self.buf = self.buf[shift:] + chunk
        self.base += shift
        self.pos = 0
        return shift

    def peek(self) -> int:
        """The next byte after whitespace, or -1 at the end of the document."""
        buf, pos = self.buf, self.pos
        if pos < len(buf) and buf[pos] not in _SPACE:  # the common case, without the regex
            return buf[pos]
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.more() < 0:
                return -1

    def locate(self, offset: int) -> Location:
        """Line, column (bytes, 1-based) and offset of a document offset still in the buffer."""
        at = offset - self.base
        line = self.lines + self.buf.count(b"\n", 0, at) + 1
        last = self.buf.rfind(b"\n", 0, at)
        starts = self.base + last + 1 if last >= 0 else self.line_start
        return Location(line=line, column=offset - starts + 1, offset=offset)

    def fail(
        self, message: str, code: ErrorCode = ErrorCode.MALFORMED, hint: str | None = None
    ) -> MalformedFeedError:
        """A feed error located at the cursor."""
        where = self.locate(self.base + self.pos)
        return MalformedFeedError(
            code,
            f"line {where.line}, column {where.column}: {message} (at byte {where.offset})",
            where,
            hint,
        )

    def syntax(self, error: _SyntaxAt, start: int) -> MalformedFeedError:
        """A decoder's syntax error in data that began at buffer position `start`, located."""
        where = self.locate(self.base + start + error.at)
        return MalformedFeedError(
            ErrorCode.MALFORMED,
            f"line {where.line}, column {where.column}: {error.error.message} (at byte {where.offset})",
            where,
        )

    def batch(self) -> list[object] | None:
        """Decode every complete item in the next `max_item_bytes` at once, or None.

        One C-level decode of `[item, item, ...]` instead of one call per item:
        the slice ends at an item boundary (a brace followed by `,{` or `]`), and
        if the slice decodes as an array, its elements are exactly the items
        (the same left-to-right reading as the document's). The window is the
        item size cap, so no item in a batch can exceed it. Anything unusual
        (no boundary in the window, a decode error) returns None and the
        item-by-item path takes over, with its exact errors.
        """
        limit = self.limits.max_item_bytes
        while len(self.buf) - self.pos < limit and self.more() >= 0:
            pass
        buf, start = self.buf, self.pos
        window_end = min(len(buf), start + limit)
        brace = buf.rfind(b"}", start, window_end)
        found = None
        for _ in range(_MAX_CANDIDATES):
            if brace < 0:
                return None
            found = _ITEM_END.match(buf, brace)
            if found is not None:
                break
            brace = buf.rfind(b"}", start, brace)
        if found is None:
            return None
        try:
            items = self.decoder.decode(b"[" + buf[start : brace + 1] + b"]")
        except (_Truncated, MalformedFeedError):
            return None
        if not isinstance(items, list):  # pragma: no cover - an array decodes to a list
            return None
        after = found.end()
        if buf[after - 1] == _CLOSE_BRACKET:
            self.pos = after
            self.after_item = _ARRAY_CLOSED
        else:
            self.pos = after - 1
            self.after_item = _NEXT_ITEM
        return items

    def item(self) -> object:
        """Decode the array item at the cursor (an object, normally) and move past it.

        Candidate ends are closing braces followed by `,{` or `]`, which a
        nested object's brace never is outside a string; the first candidate
        that decodes is the end. Anything unusual goes to `value()`.
        """
        if self.buf[self.pos] != ord("{"):
            return self.value()
        start = self.pos
        limit = self.limits.max_item_bytes
        search = start
        tries = 0
        while tries < _MAX_CANDIDATES:
            found = _ITEM_END.search(self.buf, search)
            if found is None:
                if len(self.buf) - start > limit:
                    break
                shift = self.more()
                if shift < 0:
                    break
                start -= shift
                search = max(start, search - shift)
                continue
            end = found.start() + 1
            if end - start > limit:
                break
            tries += 1
            try:
                value = self.decoder.decode(self.buf[start:end])
            except _Truncated:
                search = end
                continue
            except MalformedFeedError:
                break  # let the exact path find the true end and the true error
            # The separator is known already: step over it (to the next item's
            # brace, or past the closing bracket) and tell the array loop.
            after = found.end()
            if self.buf[after - 1] == _CLOSE_BRACKET:
                self.pos = after
                self.after_item = _ARRAY_CLOSED
            else:
                self.pos = after - 1
                self.after_item = _NEXT_ITEM
            return value
        self.pos = start
        return self.value()

    def value(self) -> object:
        """Decode the JSON value at the cursor and move past it."""
        first = self.buf[self.pos]
        closer = _CLOSERS.get(first)
        if closer is None:
            return self._scalar()
        limit = self.limits.max_item_bytes
        start = self.pos
        search = start + 1
        tries = 0
        balance = first != closer  # strings have no nesting to balance
        while tries < _MAX_CANDIDATES:
            end = self.buf.find(closer, search)
            if end < 0:
                if len(self.buf) - start > limit:
                    break
                shift = self.more()
                if shift < 0:
                    break  # a brace in a string misled the count, or the value is cut: exact path
                start -= shift
                search -= shift
                continue
            search = end + 1
            if search - start > limit:
                break
            tries += 1  # every candidate counts: braces inside strings must not make this quadratic
            if balance and self.buf.count(first, start, search) != self.buf.count(closer, start, search):
                continue
            try:
                value = self.decoder.decode(self.buf[start:search])
            except _Truncated:
                continue
            except MalformedFeedError:
                break  # a brace inside a string misled the count: the exact path decides
            self.pos = search
            return value
        return self._exact(start)

    def _scalar(self) -> object:
        while True:
            end = _SCALAR_END.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if end < len(self.buf) or self.eof:
                break
            if end - self.pos > self.limits.max_number_chars + 8:
                break
            self.more()
        data = self.buf[self.pos : end]
        if not data:
            raise self.fail("expected a value")
        try:
            value = self.decoder.decode(data)
        except _Truncated:
            raise self.fail("the document ends in the middle of a value") from None
        except _SyntaxAt as error:
            raise self.syntax(error, self.pos) from None
        self.pos = end
        return value

    def _exact(self, start: int) -> object:
        limit = self.limits.max_item_bytes
        self.pos = start
        while len(self.buf) - self.pos <= limit and self.more() >= 0:
            pass
        window = self.buf[self.pos : self.pos + limit + 1]
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(window, final=False)
            value, chars = self.decoder.raw_decode_prefix(text)
        except UnicodeDecodeError:
            raise self.fail("the feed is not valid UTF-8", ErrorCode.ENCODING) from None
        except _Truncated:
            if len(window) > limit:
                raise self.fail(f"an item is larger than {limit} bytes", ErrorCode.ITEM_TOO_LARGE) from None
            raise self.fail("the document ends in the middle of a value") from None
        except _SyntaxAt as error:
            raise self.syntax(error, self.pos) from None
        self.pos += len(text[:chars].encode("utf-8"))
        return value


def read_document_items(
    stream: BinaryIO, limits: FeedLimits, decoder: JsonDecoder
) -> Iterator[tuple[object, int | None]]:
    """Items of a `{"products": [...]}` document, with the byte offset where each starts
    when it was read on its own (None for items decoded in a batch).

    Other top-level members are read and ignored (they may carry metadata), each
    within the item size cap.
    """
    reader = _Reader(stream, limits, decoder)
    if reader.peek() < 0:
        raise reader.fail("the document is empty")
    _refuse_other_encodings(reader.buf)
    if reader.buf.startswith(_BOM, reader.pos):
        reader.pos += len(_BOM)
    if reader.peek() != ord("{"):
        other = looks_like(reader.buf[reader.pos : reader.pos + 512])
        media = {"CSV": "text/csv", "XML": "application/xml"}.get(other or "")
        hint = None if media is None else f"the body looks like {other}: send it with Content-Type {media}"
        raise reader.fail('a JSON feed is an object: {"products": [...]}', hint=hint)
    reader.pos += 1
    found = False
    first = True
    while True:
        byte = reader.peek()
        if byte == ord("}"):
            reader.pos += 1
            break
        if not first:
            if byte != ord(","):
                raise reader.fail("expected ',' or '}' between members")
            reader.pos += 1
            byte = reader.peek()
        first = False
        if byte != ord('"'):
            raise reader.fail("expected a member name in double quotes")
        key = reader.value()
        if reader.peek() != ord(":"):
            raise reader.fail("expected ':' after a member name")
        reader.pos += 1
        byte = reader.peek()
        if byte < 0:
            raise reader.fail("the document ends in the middle of a value")
        if key == "products":
            if found:
                raise reader.fail('"products" appears twice')
            if byte != ord("["):
                raise reader.fail('"products" must be an array')
            found = True
            yield from _array_items(reader)
        else:
            reader.value()
    if not found:
        raise reader.fail('the document has no "products" array')
    if reader.peek() >= 0:
        raise reader.fail("unexpected data after the document")


def _array_items(reader: _Reader) -> Iterator[tuple[object, int | None]]:
    reader.pos += 1  # the '['
    byte = reader.peek()
    if byte == ord("]"):
        reader.pos += 1
        return
    while True:
        if byte < 0:
            raise reader.fail("the document ends inside the products array")
        reader.after_item = _UNKNOWN
        items = reader.batch() if byte == ord("{") else None
        if items is not None:
            # A batch knows no per-item offsets; the JSON Pointer locates its items.
            for item in items:
                yield item, None
        else:
            offset = reader.base + reader.pos
            yield reader.item(), offset
        after = reader.after_item
        if after == _NEXT_ITEM:
            byte = ord("{")
            continue
        if after == _ARRAY_CLOSED:
            return
        byte = reader.peek()
        if byte == ord(","):
            reader.pos += 1
            byte = reader.peek()
        elif byte == ord("]"):
            reader.pos += 1
            return
        elif byte < 0:
            raise reader.fail("the document ends inside the products array")
        else:
            raise reader.fail("expected ',' or ']' after an item")


def read_lines_items(
    stream: BinaryIO, limits: FeedLimits, decoder: JsonDecoder
) -> Iterator[tuple[object, int]]:
    """Items of a JSON Lines feed (one object per line) with their line numbers; blank
    lines are skipped."""
    limit = limits.max_item_bytes
    readline = stream.readline
    # Lines are checked for repeated names a block at a time (see JsonDecoder.checked).
    decode = decoder.decode_unchecked
    lines: list[bytes] = []
    values: list[object] = []
    numbers: list[int] = []
    number = 0
    offset = 0
    """Where the line being read starts in the document."""
    while True:
        if len(lines) >= _LINES_BLOCK:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            lines, values, numbers = [], [], []
        line = readline(limit + 2)
        if not line:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            return
        number += 1
        starts, offset = offset, offset + len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            raise MalformedFeedError(
                ErrorCode.ITEM_TOO_LARGE,
                f"line {number} is longer than {limit} bytes",
                Location(line=number),
            )
        if number == 1:
            _refuse_other_encodings(line)
            if line.startswith(_BOM):
                line = line[len(_BOM) :]
                starts += len(_BOM)
        if line.isspace():
            continue
        try:
            try:
                value = decode(line)
            except _Truncated:
                # msgspec reports a lone surrogate as truncation: the exact decoder names it.
                value = decoder.decode_exactly(line)
        except _Truncated:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"line {number} is not a complete JSON value",
                Location(line=number),
            ) from None
        except _SyntaxAt as error:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            column = error.at + 1
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"line {number}, column {column}: {error.error.message} (at byte {starts + error.at})",
                Location(line=number, column=column, offset=starts + error.at),
            ) from None
        except MalformedFeedError as error:
            yield from zip(_checked_lines(decoder, lines, values, numbers), numbers, strict=True)
            raise MalformedFeedError(
                error.error.code, f"line {number}: {error.error.message}", Location(line=number)
            ) from None
        lines.append(line)
        values.append(value)
        numbers.append(number)


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
