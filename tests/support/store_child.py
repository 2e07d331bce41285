"""A child process that ingests a generated feed on any store (run with `python -m`).

    python -m support.store_child DATABASE_URL PARTNER ITEMS [--signal-after N]

It builds the application as `partner-ingest` does (bootstrap.build, settings
from support.workers) and streams a JSON Lines feed of ITEMS products through
the real use case; with --signal-after it prints "HALFWAY" once N items have
been read, so the parent can kill it mid-feed. It prints "DONE <status>
<created>" at the end.
"""

from __future__ import annotations

import io
import sys

from partner_ingest.domain.use_cases import FeedSubmission

from .sqlite_child import SignallingStream
from .workers import app_for


def main(argv: list[str]) -> None:
    url, partner, items = argv[0], argv[1], int(argv[2])
    signal_after = int(argv[4]) if len(argv) > 4 and argv[3] == "--signal-after" else None
    app = app_for(url)
    try:
        body = io.BufferedReader(SignallingStream(items, signal_after), buffer_size=64 * 1024)
        report = app.ingest(FeedSubmission(partner_id=partner, body=body, format="jsonl", version=1))
    finally:
        app.close()
    print("DONE", report.status, report.counts.created, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
