"""How commands talk to people: reports, progress on a terminal, JSON when asked."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

if TYPE_CHECKING:
    from partner_ingest.domain.model.report import IngestReport

__all__ = ["ProgressReader", "print_json", "print_report", "reading_with_progress"]


def print_json(data: Any, out: TextIO | None = None) -> None:  # noqa: ANN401 - any JSON
    """Pretty JSON on stdout."""
    import json

    from partner_ingest.adapters_in.json_forms import json_default

    print(json.dumps(data, indent=2, default=json_default), file=out or sys.stdout)


def print_report(report: IngestReport, *, as_json: bool, out: TextIO | None = None) -> None:
    """A report as JSON, or as a few readable lines with the first errors."""
    out = out or sys.stdout
    if as_json:
        print_json(report.to_json(), out)
        return
    c = report.counts
    print(
        f"{report.status}: {c.received} received, {c.created} created, {c.updated} updated, "
        f"{c.unchanged} unchanged, {c.rejected} rejected"
        + (f", {c.deleted} deleted" if c.deleted else "")
        + (f", {c.retired} retired" if c.retired else "")
        + f" ({report.format} v{report.version}, feed {report.feed_id})",
        file=out,
    )
    if report.feed_error is not None:
        where = report.feed_error.location.to_json() if report.feed_error.location else {}
        print(
            f"  feed error [{report.feed_error.code}] {report.feed_error.message} {where or ''}".rstrip(),
            file=out,
        )
    for error in report.errors:
        where = error.location.to_json() if error.location else {}
        print(f"  item {error.index} [{error.code}] {error.message} {where or ''}".rstrip(), file=out)
    if report.errors_total > len(report.errors):
        print(f"  ... and {report.errors_total - len(report.errors)} more errors", file=out)


class ProgressReader(io.RawIOBase):
    """Wraps a file and draws a progress bar on stderr while it is read (terminals only)."""

    def __init__(self, inner: BinaryIO, total: int, *, out: TextIO | None = None) -> None:
        self._inner = inner
        self._total = max(total, 1)
        self._done = 0
        self._out = out or sys.stderr
        self._show = self._out.isatty()
        self._last = 0.0

    def readable(self) -> bool:
        return True

    # Seekable like the file it wraps: a snapshot the mass-delete guard holds is read again to
    # be kept for its release, and a seekable body is hashed before the work.
    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self._inner.seek(offset, whence)
        self._done = position
        return position

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._done += n
        now = time.monotonic()
        if self._show and (now - self._last > 0.1 or n == 0):
            self._last = now
            share = min(self._done / self._total, 1.0)
            bar = "#" * int(share * 30)
            self._out.write(f"\r[{bar:<30}] {share:6.1%} {self._done / 1e6:8.1f} MB")
            if n == 0:
                self._out.write("\n")
            self._out.flush()
        return n


@contextmanager
def reading_with_progress(raw: BinaryIO, total: int, *, shown: bool | None = None) -> Iterator[BinaryIO]:
    """`raw`, drawing progress on stderr while it is read: bytes done, rate, elapsed time and
    time left (rich). Shown on a terminal, or whenever `shown` is True; never when False.
    Without rich installed, a plain bar does (no rate or ETA)."""
    show = sys.stderr.isatty() if shown is None else shown
    if not show:
        yield raw
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
    except ImportError:  # pragma: no cover - rich comes with the server extra
        yield io.BufferedReader(ProgressReader(raw, total), buffer_size=1 << 20)
        return
    console = Console(file=sys.stderr, force_terminal=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with (
        Progress(*columns, console=console, transient=False) as progress,
        progress.wrap_file(raw, total=total, description="reading") as reader,
    ):
        yield reader
