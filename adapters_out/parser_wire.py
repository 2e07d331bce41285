"""What a parser helper and its parent say to each other (ADR 0019): the frames of a feed's
bytes, the messages, and how a chunk's rows travel.

Invariant: a chunk arrives exactly as `FeedReading.chunks` yielded it in the helper. A feed's
job is a pickled `(FeedReading, FileSource | None)`: with a `FileSource` the helper reads the
feed from that file itself, else its bytes follow in frames (`FRAME`), an empty one at the end.
Each message back is a pickled `(kind, detail)`: "hello" (the helper's pid, once), then per feed
"accepted", "refused" (the reading cannot be unpickled there) or "unreadable" (the file
cannot be opened there: the parent sends the bytes instead), a "chunk" or a "packed" chunk
whose rows follow in the `marshal` format (`pack_rows`), "failed", and "ready" once the
helper has read the feed to its end. Rows holding a value `marshal` does not carry (anything
but the plain types a row is made of) go as pickle.
"""

from __future__ import annotations

import marshal
from typing import TYPE_CHECKING, BinaryIO, Final

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


_MARSHAL_VERSION: Final = 4
"""The `marshal` format both ends read: named, so a helper run by another build of Python
writes what its parent reads."""


def pack_rows(rows: list[ProductRow]) -> bytes | None:
    """The rows in the `marshal` format, or None where it cannot carry them (or there are none).

    Why `marshal`: the parent, which writes the rows to the database, is the slower half of
    the pipeline, and decoding a chunk is its work; `marshal` rebuilds the tuples of plain
    values a row is made of (str, int, None; a float or bytes too) in about 60% of the
    instructions MessagePack's typed decoding took, and carries every such value exactly (an
    integer of any size, a lone surrogate) where MessagePack needed pickle. Packing costs the
    helper, which has time to spare, about twice MessagePack's encoding. It reads only what
    this helper wrote (the same trust as the pickled messages around it)."""
    if not rows:
        return None
    try:
        return marshal.dumps(rows, _MARSHAL_VERSION)
    except ValueError:  # a value of another type (a subclass of str, say): pickle takes them
        return None


def unpack_rows(packed: bytes) -> list[ProductRow]:
    rows: list[ProductRow] = marshal.loads(packed)  # noqa: S302 - from our own helper
    return rows
