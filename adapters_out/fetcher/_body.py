"""Reading a response body within caps: streamed to a spooled temporary file, gzip decoded
incrementally so a small compressed body cannot expand past the decoded-size cap."""

from __future__ import annotations

import http.client
import tempfile
import zlib
from collections.abc import Iterator
from typing import Protocol

__all__ = ["BodyTooLargeError", "TruncatedBodyError", "decoder_for", "read_body"]

_CHUNK = 64 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # expect the gzip header and trailer


class BodyTooLargeError(Exception):
    """The body (on the wire or decoded) passed its cap; the message says which."""


class TruncatedBodyError(Exception):
    """The connection ended before the promised Content-Length arrived."""


class _Decoder(Protocol):
    def feed(self, chunk: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Identity:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._size += len(chunk)
        if self._size > self._limit:
            raise BodyTooLargeError(f"body exceeds the {self._limit}-byte cap")
        yield chunk

    def finish(self) -> Iterator[bytes]:
        yield from ()


class _Gzip:
    """Decodes one or more gzip members, never producing more than `limit` bytes in total."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._inflater = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        data = chunk
        while data:
            if self._inflater.eof:  # the previous member ended: a new one starts here
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
            # max_length bounds what one call may expand to: the bomb never lands in memory.
            yield self._count(self._inflater.decompress(data, self._limit - self._size + 1))
            data = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if not self._inflater.eof:
            raise zlib.error("gzip body ends before its end-of-stream marker")
        yield self._count(self._inflater.flush())

    def _count(self, out: bytes) -> bytes:
        self._size += len(out)
        if self._size > self._limit:
            raise BodyTooLargeError(f"decompressed body exceeds the {self._limit}-byte cap")
        return out


def decoder_for(content_encoding: str | None, *, max_bytes: int, max_decoded_bytes: int) -> _Decoder | None:
    """The decoder for a Content-Encoding value, or None when it is not supported."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return _Identity(max_bytes)
    if encoding in ("gzip", "x-gzip"):
        return _Gzip(max_decoded_bytes)
    return None


def read_body(
    response: http.client.HTTPResponse,
    decoder: _Decoder,
    *,
    max_bytes: int,
    spool_memory_bytes: int,
) -> tuple[tempfile.SpooledTemporaryFile[bytes], int]:
    """The decoded body in a spooled file (rewound) and its size; raises past a cap."""
    # Not a `with`: the spool is handed to the caller, who closes it after parsing.
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
        max_size=spool_memory_bytes, mode="w+b"
    )
    try:
        wire = size = 0
        while chunk := response.read1(_CHUNK):
            wire += len(chunk)
            if wire > max_bytes:
                raise BodyTooLargeError(f"body exceeds the {max_bytes}-byte cap")
            for out in decoder.feed(chunk):
                size += spool.write(out)
        # http.client's read1 ends quietly at EOF even when Content-Length promised more.
        if response.length:
            raise TruncatedBodyError(f"connection closed {response.length} bytes before the end of the body")
        for out in decoder.finish():
            size += spool.write(out)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size
