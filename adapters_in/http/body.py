"""Request bodies: read as a stream with a size cap, gunzipped with a cap, spooled and hashed.

A feed body is never held in memory whole: chunks go to a spool
(memory up to 1 MiB, then a temporary file) while SHA-256 is computed, so the
ingest use case recognizes identical content before doing any work. The cap
applies to the *decompressed* size, checked as the data is inflated in bounded
steps, so a 10 KB gzip bomb stops at the cap instead of filling the disk.

Only the receiving happens on the event loop. Every received chunk is inflated,
hashed and written in a worker thread, and so are the closing of the spool file
and the decoding of a JSON body, in the app's bounded pool (body_threads.py,
PARTNER_INGEST_BODY_THREADS): a body that inflates to a gigabyte costs its
sender a thread for a while, never another client its answer (ADR 0026).
The one exception is a small body sent as is: while the spool is in memory and
no larger than INLINE_BYTES, a chunk that is not compressed is hashed and copied
on the loop, and such a spool is closed there. That is microseconds, less than
the hand-off to a thread and back that it replaces (three of them for a small
feed); a chunk that would take the spool past INLINE_BYTES goes to the pool,
and so does everything after it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any, BinaryIO, Final, Self, cast

from anyio import CancelScope
from starlette.requests import Request

from ._context import context, request_header
from .body_threads import BodyThreads
from .errors import BadRequest, BodyTooLarge, InvalidRequest, UnsupportedMediaType

__all__ = ["SpooledBody", "check_declared_length", "read_body", "read_json"]

SPOOL_IN_MEMORY: Final = 1 << 20
INFLATE_STEP: Final = 1 << 16
"""Most bytes one decompression step may produce."""
INLINE_BYTES: Final = 64 * 1024
"""A spool in memory up to this size, of bodies sent without Content-Encoding, is written and
closed on the event loop (a copy and a hash of at most this many bytes, ~20 µs)."""
MAX_JSON_BODY: Final = 64 * 1024
"""Admin request bodies are small documents; anything larger is not one."""
_GZIP: Final = frozenset({"gzip", "x-gzip"})


class SpooledBody:
    """A received body: the stream to read it from, its size and its SHA-256 (hex).

    Its methods do file and CPU work, so the HTTP adapter calls them off the event
    loop; `async with` closes it in a worker thread too.
    """

    def __init__(self, threads: BodyThreads) -> None:
        # In memory up to SPOOL_IN_MEMORY, then a temporary file, as a SpooledTemporaryFile
        # would hold it; but a plain BytesIO while small: the spool's making, closing and
        # every read through it cost more than the copy of a small feed.
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: BinaryIO = self._memory
        self._hash = hashlib.sha256()
        self._threads = threads
        self.size = 0
        self.inline = True
        """Still small and in memory: written and closed on the loop (INLINE_BYTES)."""

    def write(self, data: bytes) -> None:
        """Append a decoded chunk."""
        if self._memory is not None and self.size + len(data) > SPOOL_IN_MEMORY:
            self._spill(self._memory)
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def _spill(self, memory: io.BytesIO) -> None:
        """Move what is held in memory to a temporary file, where the rest of the body goes."""
        file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed by close()
        try:
            with memory.getbuffer() as held:
                file.write(held)
        except BaseException:
            file.close()
            raise
        self._file = cast("BinaryIO", file)
        self._memory = None
        memory.close()

    @property
    def sha256(self) -> str:
        """SHA-256 of the decoded body, hex."""
        return self._hash.hexdigest()

    @property
    def stream(self) -> BinaryIO:
        """The body from its start (call once, after the last write)."""
        self._file.seek(0)
        return self._file

    @property
    def in_memory(self) -> bool:
        """Is the body still held in memory (no temporary file made)?"""
        return self._memory is not None

    def close(self) -> None:
        """Remove the temporary file, if one was made."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.inline:  # nothing was ever written to disk: closing frees memory
            self.close()
            return
        # Shielded: a cancelled request still closes (and so removes) its spool file.
        with CancelScope(shield=True):
            await self._threads.run(self.close)


class _Gunzip:
    """Inflates gzip (several members too, as `cat a.gz b.gz` makes) in bounded steps."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._fed = False
        """Has the current member received input it has not finished?"""
        self._members = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decompressed pieces of one received chunk, at most INFLATE_STEP bytes each."""
        while True:
            self._fed = self._fed or bool(data)
            try:
                out = self._z.decompress(data, INFLATE_STEP)
            except zlib.error:
                raise BadRequest("the body is not valid gzip", code="malformed_body") from None
            if out:
                yield out
            data = self._z.unconsumed_tail
            if self._z.eof:
                self._members += 1
                # Everything past the member's end, the unconsumed tail included (CPython
                # leaves a copy of it in unconsumed_tail too: adding both doubled the input).
                data = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._fed = False
            # A full step may leave output inside zlib with no input left: ask again to drain it.
            if not data and len(out) < INFLATE_STEP:
                return

    def finish(self) -> None:
        """BadRequest unless the body ended exactly at the end of a gzip member."""
        if self._fed or self._members == 0:
            raise BadRequest("the gzip body is truncated", code="malformed_body")


class _Receiver:
    """Decodes received chunks into a SpooledBody, refusing it past `limit` decoded bytes.

    Blocking work (inflating, hashing, writing): `read_body` runs each call in a worker thread.
    """

    def __init__(self, decoder: _Gunzip | None, body: SpooledBody, limit: int) -> None:
        self._decoder = decoder
        self._body = body
        self._limit = limit

    def take(self, chunk: bytes) -> None:
        for piece in [chunk] if self._decoder is None else self._decoder.feed(chunk):
            self._body.write(piece)
            if self._body.size > self._limit:
                raise BodyTooLarge(
                    f"the body is larger than {self._limit} bytes once decompressed",
                    details={"max_bytes": self._limit},
                )

    def finish(self) -> None:
        if self._decoder is not None:
            self._decoder.finish()


def _decoder(request: Request) -> _Gunzip | None:
    encoding = (request_header(request, "content-encoding") or "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in _GZIP:
        return _Gunzip()
    raise UnsupportedMediaType(
        f"Content-Encoding {encoding!r} is not supported",
        code="unsupported_content_encoding",
        details={"supported": ["gzip", "identity"]},
    )


def check_declared_length(request: Request, limit: int) -> None:
    """413 before reading anything when Content-Length already says the body is too large."""
    declared = request_header(request, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes", details={"max_bytes": limit})


async def read_body(request: Request, *, limit: int) -> SpooledBody:
    """The whole body, decoded, spooled and hashed; BodyTooLarge past `limit` decoded bytes.

    The loop only receives; each chunk is decoded and written in a worker thread
    (at most `body_threads` of them for the whole app), one chunk at a time, so
    a request never holds more than one received chunk beyond what was written.
    """
    threads = context(request).body_threads
    decoder = _decoder(request)
    check_declared_length(request, limit)
    body = SpooledBody(threads)  # starts in memory: no file is made until it grows
    receiver = _Receiver(decoder, body, limit)
    try:
        received = 0
        async for chunk in request.stream():
            if not chunk:
                continue
            received += len(chunk)
            if received > limit:  # compressed data larger than the cap: no need to inflate it
                raise BodyTooLarge(f"the body is larger than {limit} bytes", details={"max_bytes": limit})
            if body.inline and decoder is None and body.size + len(chunk) <= INLINE_BYTES:
                receiver.take(chunk)
                continue
            body.inline = False
            await threads.run(receiver.take, chunk)
        if decoder is not None:
            await threads.run(receiver.finish)
    except BaseException:
        await body.__aexit__(None, None, None)
        raise
    return body


def _contents(body: SpooledBody) -> bytes:
    return body.stream.read()


def _parse_json(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}", code="malformed_json") from None


async def read_json(request: Request, *, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """A small JSON object body (admin requests); an empty body reads as `{}`.

    Only a body of no bytes at all is "no body": one of whitespace (or a form feed) is
    a JSON document without a value, refused like any other malformed one.
    """
    async with await read_body(request, limit=limit) as body:
        data = await context(request).body_threads.run(_contents, body)
    if not data:
        return {}
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send this body as application/json, not {media_type or 'without a Content-Type'}",
            details={"supported": ["application/json"]},
        )
    parsed = await context(request).body_threads.run(_parse_json, data)
    if not isinstance(parsed, dict):
        raise InvalidRequest("the body must be a JSON object", details={"problems": {"": "not an object"}})
    return parsed
