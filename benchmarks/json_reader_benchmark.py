"""JSON reader benchmark: items per second of the stream reader alone, against another revision's.

    .venv/bin/python benchmarks/json_reader_benchmark.py                  # against main
    .venv/bin/python benchmarks/json_reader_benchmark.py --against HEAD~3 --rounds 9

Parses the 100,000-product json and jsonl v2 feeds of `ingest_benchmark.py`
(generated there, cached in benchmarks/.data) with `plugins/_json_stream.py` as
it is and as it was at `--against`, on msgspec and on the standard library,
interleaving the two, and prints the best of the rounds of each in process time
(CPU time of this process: on a shared machine wall time measures the
neighbours). Only parsing: no validation, no store. ADR 0027 quotes it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from partner_ingest.domain.model import FeedLimits
from partner_ingest.plugins import _json_stream
from partner_ingest.plugins.json_feed import JsonFeed

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"


def _module_at(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:plugins/_json_stream.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "json_stream_then.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("json_stream_then", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seconds(
    module: ModuleType, fmt: str, body: bytes, msgspec: bool, limits: FeedLimits
) -> tuple[float, int]:
    if module is _json_stream:
        decoder = JsonFeed(2, prefer_msgspec=msgspec).decoder(limits)
    else:
        decoder = module.JsonDecoder(limits, prefer_msgspec=msgspec)
    read = module.read_document_items if fmt == "json" else module.read_lines_items
    started = time.process_time()
    count = sum(1 for _ in read(io.BytesIO(body), limits, decoder))
    return time.process_time() - started, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    then = _module_at(args.against)
    limits = FeedLimits()
    print(
        f"JSON reader, 100,000 v2 products, best of {args.rounds} (process time): {args.against} -> this tree"
    )
    for fmt in ("json", "jsonl"):
        feed = DATA / f"feed-100000.{fmt}"
        if not feed.exists():
            print(f"{feed} is missing: run benchmarks/ingest_benchmark.py --quick once to generate it")
            return 1
        body = feed.read_bytes()
        for msgspec in (True, False):
            best = {"then": float("inf"), "now": float("inf")}
            count = 0
            for _ in range(args.rounds):
                for label, module in (("then", then), ("now", _json_stream)):
                    seconds, count = _seconds(module, fmt, body, msgspec, limits)
                    best[label] = min(best[label], seconds)
            name = "msgspec" if msgspec else "stdlib"
            print(
                f"{fmt:5} {name:7} {count / best['then']:>10,.0f} -> {count / best['now']:>10,.0f} items/s"
                f"  ({(best['now'] - best['then']) / count * 1e6:+.2f} us per item)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
