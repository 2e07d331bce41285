"""What a parser helper and its parent say to each other (ADR 0019): the frames of a feed's
bytes, the messages, and how a chunk's rows travel.

Invariant: a chunk arrives exactly as `FeedReading.chunks` yielded it in the helper. A feed's
job is a pickled `(FeedReading, FileSource | None)`: with a `FileSource` the helper reads the
feed from that file itself, else its bytes follow in frames (`FRAME`), an empty one at the end.
Each message back is a pickled `(kind, detail)`: "hello" (the helper's pid, once), then per feed
"accepted", "refused" (the reading cannot be unpickled there) or "unreadable" (the file
cannot be opened there: the parent sends the bytes instead), a "chunk" or a "packed" chunk
whose rows follow as MessagePack
(`pack_rows`: several times cheaper than pickling them), "failed", and "ready" once the
helper has read the feed to its end. Rows MessagePack cannot carry exactly (an integer past
64 bits, say) go as pickle.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import attrs

if TYPE_CHECKING:  # an annotation: the product model is not needed to start a helper
    from partner_ingest.domain.model.product import ProductRow

__all__ = ["FRAME", "FileSource", "ParserProcessError", "pack_rows", "unpack_rows"]

FRAME: Final = 1 << 18
"""Bytes per message of feed data to a helper."""


class ParserProcessError(RuntimeError):
    """A helper process failed or ended in the middle of a feed."""


@attrs.frozen
class FileSource:
    """A feed the helper reads from a regular file itself, from `offset` to its end: the
    parent then neither reads the bytes nor copies them through a pipe, and the helper
    receives none (ADR 0039). `path` names the parent's open file (/proc/PID/fd/N), so it
    is that very file, whatever its name."""

    path: str
    offset: int

    def open(self) -> BinaryIO:
        feed = open(self.path, "rb", buffering=FRAME)  # noqa: SIM115 - the caller closes it
        try:
            feed.seek(self.offset)
        except BaseException:
            feed.close()
            raise
        return feed


@functools.cache
def _row_codec() -> tuple[Any, Any] | None:
    """msgspec's MessagePack codec, imported when rows first cross a pipe (not by a process
    that only parses small feeds in place)."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec comes with the fast and server extras
        return None
    # tuple[Any, ...]: every array decodes as a tuple, the ProductRow it was.
    return msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder(list[tuple[Any, ...]]).decode


def pack_rows(rows: list[ProductRow]) -> bytes | None:
    """The rows as MessagePack, or None where it cannot carry them exactly (or is absent)."""
    codec = _row_codec()
    if codec is None or not rows:
        return None
    try:
        packed: bytes = codec[0](rows)
    except Exception:  # past 64 bits, a lone surrogate, a type it does not know: pickle takes them
        return None
    return packed


def unpack_rows(packed: bytes) -> list[ProductRow]:
    codec = _row_codec()
    if codec is None:  # pragma: no cover - a helper packs only where msgspec imports
        raise ParserProcessError("the parser process sent MessagePack and msgspec is not installed")
    rows: list[ProductRow] = codec[1](packed)
    return rows
