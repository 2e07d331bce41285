"""JSON reader benchmark: items per second of the stream reader alone, against another revision's.

    .venv/bin/python benchmarks/json_reader_benchmark.py                  # against main
    .venv/bin/python benchmarks/json_reader_benchmark.py --against HEAD~3 --rounds 9

Parses the json and jsonl v2 feeds of `ingest_benchmark.py` (100,000 products, or `--count`)
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
    """`plugins/_json_stream.py` as it was at `revision`, with the `plugins/_json_*.py` modules it
    imports from as they were too (a package of their own, so its relative imports find them)."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "plugins/"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    package = Path(tempfile.mkdtemp()) / "json_then"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in names.split():
        if Path(name).name.startswith("_json_") and name.endswith(".py"):
            source = subprocess.run(
                ["git", "show", f"{revision}:{name}"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            (package / Path(name).name).write_bytes(source)
    sys.path.insert(0, str(package.parent))
    try:
        return importlib.import_module("json_then._json_stream")
    finally:
        sys.path.remove(str(package.parent))


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
    parser.add_argument("--count", type=int, default=100_000, help="products per feed (default 100,000)")
    args = parser.parse_args()
    then = _module_at(args.against)
    limits = FeedLimits()
    print(
        f"JSON reader, {args.count:,} v2 products, best of {args.rounds} (process time): {args.against} -> this tree"
    )
    for fmt in ("json", "jsonl"):
        feed = DATA / f"feed-{args.count}-mix.{fmt}"
        if not feed.exists():
            print(f"{feed} is missing: run benchmarks/ingest_benchmark.py --quick --count {args.count} once")
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
