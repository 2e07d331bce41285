"""What a SQLite write-ahead log shows from outside: pages a transaction still open has written.

A writer whose dirty pages outgrow its page cache spills them into the WAL before it commits;
they sit there after the log's last commit frame until the commit (or the writer's death, after
which nobody reads them). Counting them tells a test, from another process and without taking a
lock, that a writer is inside a transaction that has written, where the file's size cannot: a
log restarted after a checkpoint is overwritten from its start and keeps its size.
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["uncommitted_frames"]

_HEADER = 32
_FRAME_HEADER = 24


def uncommitted_frames(database: Path) -> int:
    """Frames of the current log of `database` after its last commit frame (0 without a log).

    Frames of the current log carry the salts of its header (a restarted log's stale frames
    carry older ones); a commit frame records the database size after the commit, other frames 0.
    """
    try:
        data = database.with_name(database.name + "-wal").read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) < _HEADER:
        return 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    since_commit = 0
    offset = _HEADER
    while offset + _FRAME_HEADER <= len(data):
        header = data[offset : offset + _FRAME_HEADER]
        if header[8:16] != salts:
            break
        since_commit = 0 if struct.unpack(">I", header[4:8])[0] else since_commit + 1
        offset += _FRAME_HEADER + page_size
    return since_commit
