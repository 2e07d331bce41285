"""Child processes for the SQLite concurrency and crash tests (run with `python -m`).

    python -m support.sqlite_child ingest DB PARTNER ITEMS [--signal-after N]
    python -m support.sqlite_child hammer DB PARTNER ROUNDS

`ingest` streams a generated JSON Lines feed through the real use case; with
--signal-after it prints "HALFWAY" once N items have been read, so the parent
can kill it mid-feed. `hammer` runs many small ingests and audit appends from
several threads, printing "OK <n>" when done.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from partner_ingest.adapters_in.bootstrap import wire
from partner_ingest.adapters_in.secrets_file import load_or_create
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.domain.model import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.use_cases import FeedSubmission


def lines(count: int, *, tag: str = "") -> Iterator[bytes]:
    for n in range(count):
        yield (
            f'{{"sku": "SKU-{n:08d}", "name": "Item {n}{tag}", "price": {n % 1000}.25, '
            f'"currency": "EUR", "quantity": {n % 50}}}\n'
        ).encode()


class SignallingStream(io.RawIOBase):
    """A feed that tells the parent when the ingest has read half of it.

    Lines go into a bytearray consumed from the front: the ingest may ask for
    megabytes at once, and rebuilding a bytes buffer per line made the feed
    itself, not the ingest, the slow part of every test that uses it.
    """

    def __init__(self, count: int, signal_after: int | None) -> None:
        self._lines = lines(count)
        self._buffer = bytearray()
        self._read_items = 0
        self._signal_after = signal_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self._buffer) < len(buffer):
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
            self._read_items += 1
            if self._signal_after is not None and self._read_items == self._signal_after:
                print("HALFWAY", flush=True)
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        del self._buffer[:n]
        return n


def ingest(db: str, partner: str, items: int, signal_after: int | None) -> None:
    store = SqliteStore(db)
    app = wire(
        store.unit_of_work, store.audit_log, secrets_=load_or_create(Path(db).with_suffix(".secrets.json"))
    )
    body = io.BufferedReader(SignallingStream(items, signal_after), buffer_size=64 * 1024)
    report = app.ingest(FeedSubmission(partner_id=partner, body=body, format="jsonl", version=1))
    print("DONE", report.status, report.counts.created, flush=True)


def hammer(db: str, partner: str, rounds: int) -> None:
    store = SqliteStore(db, busy_timeout=10.0)
    app = wire(
        store.unit_of_work, store.audit_log, secrets_=load_or_create(Path(db).with_suffix(".secrets.json"))
    )
    done = []
    failures: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for r in range(rounds):
                feed = b"".join(lines(20, tag=f"-{thread}-{r}"))
                app.ingest(
                    FeedSubmission(partner_id=partner, body=io.BytesIO(feed), format="jsonl", version=1)
                )
                store.audit_log.append(
                    AuditEntry(
                        app.clock.now(),
                        AuditAction.AUTH_FAILED,
                        Outcome.DENIED,
                        "anonymous",
                        client=f"t{thread}",
                    )
                )
                done.append(1)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print("FAILED", repr(failures[0]), flush=True)
        sys.exit(1)
    print("OK", len(done), flush=True)


def main(argv: list[str]) -> None:
    command, db, partner = argv[0], argv[1], argv[2]
    if command == "ingest":
        signal_after = int(argv[5]) if len(argv) > 5 and argv[4] == "--signal-after" else None
        ingest(db, partner, int(argv[3]), signal_after)
    elif command == "hammer":
        hammer(db, partner, int(argv[3]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
