"""`FramePipe`: one end of an OS pipe carrying whole messages, each prefixed by its length.

What `multiprocessing.connection.Connection` gives the parser processes (ADR 0019)
without importing `multiprocessing`, which brings socket, tempfile and its own
context machinery into the CLI and into every parser helper, a visible share of
their start-up (ADR 0039). A frame is an 8-byte big-endian length, then the bytes.

Errors are those of `Connection`: `EOFError` when the other end closed at a frame
boundary or in the middle of one, `OSError` (BrokenPipeError) when writing to an
end nobody reads any more.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
from typing import Final

__all__ = ["FramePipe", "frame", "write_all"]

_LENGTH: Final = struct.Struct("!Q")
_SMALL: Final = 16 * 1024
"""A frame up to this size goes in one write with its length; a larger one is written
after it (copying it only to save a system call would cost more than the call)."""


class FramePipe:
    """One end of a pipe (a file descriptor this object owns and closes)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def _handle(self) -> int:
        if self._fd is None:
            raise OSError("the pipe is closed")
        return self._fd

    def fileno(self) -> int:
        return self._handle()

    def send_bytes(self, data: bytes) -> None:
        """Write `data` as one frame (blocks while the pipe is full)."""
        fd = self._handle()
        header = _LENGTH.pack(len(data))
        if len(data) <= _SMALL:
            write_all(fd, header + data)
        else:
            write_all(fd, header)
            write_all(fd, data)

    def recv_bytes(self) -> bytes:
        """The next whole frame; EOFError once the writer closed its end."""
        fd = self._handle()
        (size,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size))
        return _read_exact(fd, size) if size else b""

    def poll(self, timeout: float) -> bool:
        """Whether a frame (or the end of the pipe) can be read within `timeout` seconds."""
        readable, _, _ = select.select([self._handle()], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(OSError):  # the descriptor was closed under us: nothing to release
            self.close()


def frame(payload: bytes, prefix: bytes = b"") -> bytes:
    """`prefix` and `payload` as one frame, ready to write (for a writer that cannot block in
    `send_bytes`: it writes what the pipe takes and keeps the rest, call_process.py)."""
    return _LENGTH.pack(len(prefix) + len(payload)) + prefix + payload


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data`; on a non-blocking end, wait for room whenever the pipe is full."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def _read_exact(fd: int, size: int) -> bytes:
    """`size` bytes, read as they arrive; EOFError at an end of file before them."""
    first = os.read(fd, size)
    if len(first) == size:
        return first  # the common case: the frame was in the pipe already
    if not first:
        raise EOFError
    buffer = bytearray(size)
    view = memoryview(buffer)
    view[: len(first)] = first
    have = len(first)
    while have < size:
        got = os.readv(fd, [view[have:]])
        if not got:
            raise EOFError
        have += got
    return bytes(buffer)
