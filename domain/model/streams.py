"""`RawReader`: the one way a feed's bytes are wrapped on their way to a parser.

Parsers read through `io.BufferedReader`, which wants a raw stream with
`readinto`. Every wrapper here (hashing, interruption, a helper process's
pipe, a read-ahead put back) only changes where the next bytes come from, so
each says just that, in `read_some`, and this class does the copying.
"""

from __future__ import annotations

import io

__all__ = ["RawReader"]


class RawReader(io.RawIOBase):
    """A readable raw stream; subclasses implement `read_some`."""

    def readable(self) -> bool:
        return True

    def read_some(self, size: int) -> bytes | memoryview:
        """Up to `size` bytes (at least one), or empty at the end of the stream."""
        raise NotImplementedError

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # typeshed: Buffer
        data = self.read_some(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n
