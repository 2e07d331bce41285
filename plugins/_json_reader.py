"""A streaming reader of a JSON document's bytes: the item at the cursor decoded alone, or a
batch of items at once, in bounded memory, its caps feed errors (ADR 0005).

Neither the standard library nor msgspec can decode part of a document, so
this reader finds where each item ends and decodes just that slice:

- A candidate end is the next closing brace at which the counts of `{` and `}`
  since the item's start balance. Decoding the slice up to it either succeeds,
  which proves it is the item's real end (JSON is read left to right, so a
  prefix that is a complete value is the value), or reports truncation (the
  brace was inside a string), and the next candidate is tried.
- After a few failed candidates (braces in strings, adversarial input) it falls
  back to the standard library's `raw_decode`, which finds the end exactly.

Invariant: the buffer holds at most the item size cap past the cursor plus one read, and
the slice length is the item's size, so `max_item_bytes` costs nothing to check; every
error is located (line, column, byte offset) where it is in the document.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

from ._json_decoder import JsonDecoder, SyntaxAt, Truncated

__all__ = ["ARRAY_CLOSED", "NEXT_ITEM", "UNKNOWN", "Reader"]

_CHUNK: Final = 1 << 20
_MAX_CANDIDATES: Final = 16
_BATCH_BYTES: Final = 1 << 15
"""Bytes of the document a batch decodes at most, unless no item ends in them. A batch's items
are validated after it is decoded: about a hundred items (this window) are still in the core's
cache then, some 800 (a window of the item size cap, 256 KiB) are not, and cost the parser
helper a fifth more time each (ADR 0027)."""
_WHITESPACE: Final = re.compile(rb"[ \t\r\n]*")
_SCALAR_END: Final = re.compile(rb"[^,\]} \t\r\n]*")
_CLOSERS: Final = {ord("{"): ord("}"), ord("["): ord("]"), ord('"'): ord('"')}
_SPACE: Final = frozenset(b" \t\r\n")
_CLOSE_BRACKET: Final = ord("]")
UNKNOWN, NEXT_ITEM, ARRAY_CLOSED = 0, 1, 2
"""What the reader saw after the item it read (`Reader.after_item`)."""
# Where an item of the products array can end: a closing brace followed by the
# next item or by the end of the array (never true of a nested object's brace).
_ITEM_END: Final = re.compile(rb"\}[ \t\r\n]*(?:,[ \t\r\n]*\{|\])")


def _line_breaks(buf: bytes, end: int) -> int:
    """How many line breaks `buf[:end]` holds. `count` of one byte is a plain loop over every
    byte, `find` a vector search (memchr) but a Python call each: a document with a line per
    item or fewer breaks is counted a break at a time, a denser one (where a call per break
    would cost about what `count` does) by `count` from where it turns out to be dense, so
    that no document costs much more than `count` alone."""
    breaks = 0
    at = buf.find(b"\n", 0, end)
    while at >= 0:
        breaks += 1
        if breaks << _SPARSE_BREAKS > at + _SPARSE_GRACE:  # dense so far
            return breaks + buf.count(b"\n", at + 1, end)
        at = buf.find(b"\n", at + 1, end)
    return breaks


_SPARSE_BREAKS: Final = 8
"""A break per 2**8 bytes: about where a call per break and a pass of `count` cost the same."""
_SPARSE_GRACE: Final = 1 << 12
"""Bytes before a document can look dense: its first line (`{"products": [`) is short."""


def _last_item_end(buf: bytes, start: int, end: int) -> re.Match[bytes] | None:
    """The last of the item boundaries (`_ITEM_END`) that lie whole in `buf[start:end]`, brace
    and separator, looking at `_MAX_CANDIDATES` braces at most from the end; None if none of
    them is one. Only the window's bytes decide: past its end the buffer holds whatever the
    stream's reads happened to bring, and a separator found there in one read pattern and not
    in another made the same document's batches, and so its items' offsets, differ."""
    brace = buf.rfind(b"}", start, end)
    for _ in range(_MAX_CANDIDATES):
        if brace < 0:
            return None
        found = _ITEM_END.match(buf, brace, end)
        if found is not None:
            return found
        brace = buf.rfind(b"}", start, brace)
    return None


class Reader:
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
        self.after_item = UNKNOWN
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
        breaks = _line_breaks(self.buf, shift)  # line numbers for errors
        if breaks:
            self.lines += breaks
            self.line_start = self.base + self.buf.rfind(b"\n", 0, shift) + 1
        self.buf = self.buf[shift:] + chunk
        self.base += shift
        self.pos = 0
        return shift

    def fill(self, size: int) -> None:
        """Read until `size` bytes lie past the cursor or the stream ends: a stream may hand
        out any number of bytes a read, and what is judged on its first bytes must see them all."""
        while len(self.buf) - self.pos < size and self.more() >= 0:
            pass

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

    def syntax(self, error: SyntaxAt, start: int) -> MalformedFeedError:
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
        (the same left-to-right reading as the document's). The window is
        `_BATCH_BYTES`, widened to the item size cap where no item ends in it,
        so no item in a batch can exceed the cap. Anything unusual (no boundary
        in the window, a decode error) returns None and the item-by-item path
        takes over, with its exact errors.
        """
        limit = self.limits.max_item_bytes
        self.fill(limit)
        buf, start = self.buf, self.pos
        found = None
        if limit > _BATCH_BYTES:
            found = _last_item_end(buf, start, min(len(buf), start + _BATCH_BYTES))
        if found is None:
            found = _last_item_end(buf, start, min(len(buf), start + limit))
            if found is None:
                return None
        brace = found.start()
        try:
            items = self.decoder.decode(b"[" + buf[start : brace + 1] + b"]")
        except (Truncated, MalformedFeedError):
            return None
        if not isinstance(items, list):  # pragma: no cover - an array decodes to a list
            return None
        after = found.end()
        if buf[after - 1] == _CLOSE_BRACKET:
            self.pos = after
            self.after_item = ARRAY_CLOSED
        else:
            self.pos = after - 1
            self.after_item = NEXT_ITEM
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
            except Truncated:
                search = end
                continue
            except MalformedFeedError:
                break  # let the exact path find the true end and the true error
            # The separator is known already: step over it (to the next item's
            # brace, or past the closing bracket) and tell the array loop.
            after = found.end()
            if self.buf[after - 1] == _CLOSE_BRACKET:
                self.pos = after
                self.after_item = ARRAY_CLOSED
            else:
                self.pos = after - 1
                self.after_item = NEXT_ITEM
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
            except Truncated:
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
        except Truncated:
            raise self.fail("the document ends in the middle of a value") from None
        except SyntaxAt as error:
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
        except Truncated:
            if len(window) > limit:
                raise self.fail(f"an item is larger than {limit} bytes", ErrorCode.ITEM_TOO_LARGE) from None
            raise self.fail("the document ends in the middle of a value") from None
        except SyntaxAt as error:
            raise self.syntax(error, self.pos) from None
        self.pos += len(text[:chars].encode("utf-8"))
        return value
