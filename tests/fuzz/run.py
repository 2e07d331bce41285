"""Coverage-guided fuzzing of one parser with atheris (libFuzzer): `make fuzz` runs every target.

    .venv/bin/python tests/fuzz/run.py json --seconds 300

Each target runs in a child process (libFuzzer ends its process when the time
is up), seeded with the committed corpus in tests/fuzz/corpus/<target>/ and
growing a working corpus under build/fuzz/<target>/. A failing input is written
to build/fuzz/<target>/ and the run fails; commit it to the committed corpus
with the fix (tests/fuzz/test_corpus.py replays that corpus under pytest).
Memory is capped twice: libFuzzer's RSS limit and the address space (RLIMIT_AS).
The summary line gives the executions of the target.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RSS_LIMIT_MB = 1536
MAX_LEN = 16384


def _child(target: str, seconds: int, work: Path) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install 'partner-catalog-ingest[fuzz]' (Linux x86-64 wheels)")

    with atheris.instrument_imports(include=["partner_ingest"]):
        sys.path.insert(0, str(HERE.parent))
        from fuzz.targets import check

    one_input = check(target)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-malloc_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={MAX_LEN}",
            "-timeout=20",
            "-print_final_stats=1",
            f"-artifact_prefix={work}/",
            f"-dict={HERE / ('json' if target == 'jsonl' else target)}.dict",
            str(work / "corpus"),
            str(HERE / "corpus" / target),
        ],
        one_input,
    )
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["json", "jsonl", "csv", "xml"])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = ROOT / "build" / "fuzz" / args.target
    if args.child:
        _child(args.target, args.seconds, work)
        return 0
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    log = work / "fuzz.log"
    started = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, __file__, args.target, "--seconds", str(args.seconds), "--child"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    runs = re.search(r"stat::number_of_executed_units: (\d+)", text)
    executions = int(runs.group(1)) if runs else 0
    corpus = len(list((work / "corpus").iterdir()))
    print(
        f"fuzz {args.target}: {executions} executions in {elapsed:.0f} s "
        f"({executions / max(elapsed, 1):.0f}/s), corpus {corpus}, exit {done.returncode}"
    )
    if done.returncode != 0:
        print(text[-4000:])
        print(f"fuzz {args.target}: FAILED, see {log} and the crash-* input beside it")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
