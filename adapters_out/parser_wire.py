"""What a parser helper and its parent say to each other (ADR 0019): the frames of a feed's
bytes, the messages, and how a chunk's rows travel.

Invariant: a chunk arrives exactly as `FeedReading.chunks` yielded it in the helper. Each
message is a pickled `(kind, detail)`: "hello" (the helper's pid, once), then per feed
"accepted" or "refused", a "chunk" or a "packed" chunk whose rows follow as MessagePack
(`pack_rows`: several times cheaper than pickling them), "failed", and "ready" once the
helper has read the feed to its end. Rows MessagePack cannot carry exactly (an integer past
64 bits, say) go as pickle.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # an annotation: the product model is not needed to start a helper
    from partner_ingest.domain.model.product import ProductRow

__all__ = ["FRAME", "ParserProcessError", "pack_rows", "unpack_rows"]

FRAME: Final = 1 << 18
"""Bytes per message of feed data to a helper."""


class ParserProcessError(RuntimeError):
    """A helper process failed or ended in the middle of a feed."""


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
