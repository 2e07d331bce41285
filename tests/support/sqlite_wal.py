"""What a SQLite write-ahead log shows from outside: pages a transaction still open has written.

A writer whose dirty pages outgrow its page cache spills them into the WAL before it commits;
they sit there after the log's last commit frame until the commit (or the writer's death, after
which nobody reads them). Counting them tells a test, from another process and without taking a
lock, that a writer is inside a transaction that has written, where the file's size cannot: a
log restarted after a checkpoint is overwritten from its start and keeps its size.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

__all__ = ["WalWatch"]

_HEADER = 32
_FRAME_HEADER = 24


class WalWatch:
    """The write-ahead log of one database, read on from where the last look stopped (a log is
    megabytes, and a test polls it every few milliseconds)."""

    def __init__(self, database: Path) -> None:
        self._log = database.with_name(database.name + "-wal")
        self._salts = b""
        self._offset = _HEADER
        self._since_commit = 0

    def uncommitted_frames(self) -> int:
        """Frames of the current log after its last commit frame (0 without a log).

        Frames of the current log carry the salts of its header (a restarted log's stale frames
        carry older ones); a commit frame records the database size after the commit, other frames 0.
        """
        try:
            log = self._log.open("rb", buffering=0)
        except FileNotFoundError:
            return 0
        with log:
            header = log.read(_HEADER)
            if len(header) < _HEADER:
                return 0
            page_size = struct.unpack(">I", header[8:12])[0]
            if header[16:24] != self._salts:  # a new log, or a restarted one: from its start
                self._salts, self._offset, self._since_commit = header[16:24], _HEADER, 0
            while True:
                frame = os.pread(log.fileno(), _FRAME_HEADER, self._offset)
                if len(frame) < _FRAME_HEADER or frame[8:16] != self._salts:
                    break
                self._since_commit = 0 if struct.unpack(">I", frame[4:8])[0] else self._since_commit + 1
                self._offset += _FRAME_HEADER + page_size
        return self._since_commit
