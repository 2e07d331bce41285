"""Decoding one complete JSON value from bytes, as a feed needs it (ADR 0005, ADR 0027): msgspec
where it is installed, the standard library otherwise and wherever an error must be exact.

Invariant: numbers with a fraction or an exponent decode as exact Decimals, NaN and Infinity
are refused, number length is capped (`max_number_chars`), and JSON on the wire is UTF-8.
A member name repeated in one object (`{"sku": "A", "sku": "B"}`) must not let the last one
win without a word (ADR 0027). Both decoders build objects in C, keeping the last;
`JsonDecoder.checked` then counts the names in the bytes against the members decoded
(_json_names.py), a whole batch or a block of lines at a time, and only a slice where they
differ is decoded again by the standard library with an object hook that puts an
`UnreadableValue` in place of a repeated name's value, which the validator reports as
`duplicate_key`. A slice that ends before its value does raises `Truncated`, for the
readers to try a longer one.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Final

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

from ._json_names import (
    members,
    members_at_least,
    names_at_most,
    object_hook,
    refuse_lone_surrogates,
)

__all__ = ["BOM", "JsonDecoder", "SyntaxAt", "Truncated", "refuse_other_encodings"]

BOM: Final = codecs.BOM_UTF8


def refuse_other_encodings(head: bytes) -> None:
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


class Truncated(Exception):
    """The slice ends before the value does."""


class SyntaxAt(MalformedFeedError):
    """A syntax error `at` bytes into the decoded data; the reader turns it into a line, a
    column and a document offset (both decoders say where, each in its own way)."""

    def __init__(self, message: str, at: int) -> None:
        super().__init__(ErrorCode.MALFORMED, message)
        self.at = at


_MSGSPEC_AT: Final = re.compile(r"\s*\(byte (\d+)\)$")


def _stdlib_syntax(error: json.JSONDecodeError, text: str) -> SyntaxAt:
    return SyntaxAt(f"invalid JSON: {error.msg}", len(text[: error.pos].encode("utf-8")))


def _too_long(kind: str, limit: int) -> MalformedFeedError:
    return MalformedFeedError(
        ErrorCode.NUMBER_TOO_LONG, f"a {kind} in the feed is longer than {limit} characters"
    )


class _Decoders:
    """The decoders of one number cap, and their hooks: stateless, so built once per thread
    (`_decoders`) rather than once per feed, which for a small feed costs more than reading it."""

    def __init__(self, cap: int, prefer_msgspec: bool) -> None:
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
        self.stdlib_plain = json.JSONDecoder(parse_float=to_decimal, parse_int=to_int, parse_constant=refuse)
        self.stdlib = json.JSONDecoder(
            parse_float=to_decimal, parse_int=to_int, parse_constant=refuse, object_pairs_hook=object_hook
        )
        self.msgspec_decode: Callable[[bytes], object] | None = None
        self.msgspec_error: type[Exception] = ValueError
        if prefer_msgspec:
            try:
                import msgspec
            except ImportError:  # pragma: no cover - exercised by the no-msgspec CI leg
                pass
            else:
                self.msgspec_decode = msgspec.json.Decoder(float_hook=to_decimal).decode
                self.msgspec_error = msgspec.DecodeError


_PER_THREAD: Final = threading.local()


def _decoders(cap: int, prefer_msgspec: bool) -> _Decoders:
    """This thread's decoders for `cap`: kept per thread so that no decoder (nor the standard
    library scanner's memo of member names) is ever shared by two threads at once."""
    try:
        kept: dict[tuple[int, bool], _Decoders] = _PER_THREAD.decoders
    except AttributeError:
        kept = _PER_THREAD.decoders = {}
    found = kept.get((cap, prefer_msgspec))
    if found is None:
        if len(kept) >= _MAX_KEPT:  # a cap per limits a service configures: a few at most
            kept.clear()
        found = kept[cap, prefer_msgspec] = _Decoders(cap, prefer_msgspec)
    return found


_MAX_KEPT: Final = 16


class JsonDecoder:
    """Decodes one complete JSON value from bytes: numbers with a fraction or an exponent
    as exact Decimals, NaN and Infinity refused, number length capped.

    One per feed: `kept_every_name` learns from a feed's first batches how to check its later
    ones (the decoders it reads with are shared, see `_Decoders`)."""

    def __init__(
        self, limits: FeedLimits, *, prefer_msgspec: bool = True, nested: tuple[str, ...] = ()
    ) -> None:
        """`nested`: the fields that hold objects in a valid item (`dimensions`), which the
        repeated-name check counts cheaply."""
        decoders = _decoders(limits.max_number_chars, prefer_msgspec)
        self._nested = nested
        self._colons_may_count = True
        """Whether `kept_every_name` still tries counting colons first (see there)."""
        self._stdlib_plain = decoders.stdlib_plain
        self._stdlib = decoders.stdlib
        self.decode_unchecked: Callable[[bytes], object]
        """`data` decoded, a repeated member name not looked for (see `checked`)."""
        self.decode_bare: Callable[[bytes], object]
        """`decode_unchecked` without its translation of errors: the decoder itself, called
        without a Python frame in between, for a reader that decodes a value per line. What it
        raises, `decode_unchecked` of the same bytes raises as the readers take it."""
        msgspec_decode = decoders.msgspec_decode
        if msgspec_decode is None:
            self.decode_unchecked = functools.partial(self._decode_stdlib, decoder=self._stdlib_plain)
            self.decode_bare = self.decode_unchecked
            self.uses_msgspec = False
        else:
            self._msgspec_decode = msgspec_decode
            self._msgspec_error = decoders.msgspec_error
            self.decode_unchecked = self._decode_msgspec
            self.decode_bare = msgspec_decode
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

    def kept_every_name(self, data: bytes, values: list[object], outer: int = 0) -> bool:
        """Whether `values` (the items of an array, or values side by side), decoded from
        `data`, hold every member name `data` has; `outer`: the member names decoded around
        them (a whole document's own)."""
        found = members_at_least(values, self._nested) + outer
        if self._colons_may_count:
            if data.count(b":") == found:  # every colon ends a name (no URL, no time of day in text)
                return True
            # Text with a colon (a URL, a time of day) is in one batch of a feed: it is in the
            # next ones too, where the colons would be counted for nothing (a pass as costly
            # as the names' own count).
            self._colons_may_count = False
        names = names_at_most(data)
        return found == names or members(values) + outer == names

    def _decode_msgspec(self, data: bytes) -> object:
        try:
            return self._msgspec_decode(data)
        except self._msgspec_error as error:
            message = str(error)
            if message.startswith("Input data was truncated"):
                raise Truncated from None
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

    def _exactly_where(self, data: bytes, message: str, at: int) -> SyntaxAt:
        try:
            self._decode_stdlib(data)
        except SyntaxAt as exact:
            return SyntaxAt(message, exact.at)
        except (MalformedFeedError, Truncated):
            pass
        return SyntaxAt(message, at)

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
                raise Truncated from None
            raise _stdlib_syntax(error, text) from None
        except RecursionError:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP, "the document is nested too deeply to read"
            ) from None
        # JSON's whitespace only: str.strip() would also take \x1c-\x1f and \x85, which msgspec refuses.
        rest = text[end:]
        if end != len(text) and rest.strip(" \t\r\n"):
            extra = end + len(rest) - len(rest.lstrip(" \t\r\n"))
            raise SyntaxAt("invalid JSON: extra data after a value", len(text[:extra].encode("utf-8")))
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
                raise Truncated from None
            raise _stdlib_syntax(error, text) from None
        except RecursionError:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP, "the document is nested too deeply to read"
            ) from None
