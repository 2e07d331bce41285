"""A feed's rejections spooled to a temporary file, so a feed of a million invalid items is
held in bounded memory until the diagnostics step writes them (ADR 0033)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import tempfile

    from partner_ingest.domain.model.diagnostics import Rejection

__all__ = ["FileRejectionSpool", "FileRejectionSpools"]

_IN_MEMORY: Final = 1 << 20
"""Bytes kept in memory before the spool moves to disk (most feeds have few rejections)."""


class FileRejectionSpool:
    """Batches pickled one after another into a `SpooledTemporaryFile` it alone writes and reads."""

    def __init__(self, max_memory: int = _IN_MEMORY) -> None:
        self._max_memory = max_memory
        # Made by the first rejection: most feeds have none, and every feed gets a spool.
        self._file: tempfile.SpooledTemporaryFile[bytes] | None = None

    def add(self, rejections: Sequence[Rejection]) -> None:
        """Append a batch at the end of the file."""
        if self._file is None:
            import tempfile  # here: with shutil and random, for the first feed that has a rejection

            self._file = tempfile.SpooledTemporaryFile(max_size=self._max_memory)  # noqa: SIM115 - closed by close()
        self._file.seek(0, 2)
        pickle.dump(list(rejections), self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def batches(self, size: int) -> Iterator[list[Rejection]]:
        """Every rejection, in order, `size` at a time, read back from the start."""
        if self._file is None:
            return
        end = self._file.seek(0, 2)
        position = 0
        pending: list[Rejection] = []
        while position < end:
            self._file.seek(position)
            pending.extend(pickle.load(self._file))  # noqa: S301 - our own file, written above
            position = self._file.tell()
            while len(pending) >= size:
                yield pending[:size]
                pending = pending[size:]
        if pending:
            yield pending

    def close(self) -> None:
        """Delete the file."""
        if self._file is not None:
            self._file.close()


class FileRejectionSpools:
    """Makes a `FileRejectionSpool` per feed."""

    def __init__(self, max_memory: int = _IN_MEMORY) -> None:
        self._max_memory = max_memory

    def __call__(self) -> FileRejectionSpool:
        return FileRejectionSpool(self._max_memory)
