"""Load: 50 partner keys at twice their per-minute limit, with wrk, against real `serve` processes (ADR 0026).

Two setups, one after the other: (a) one `serve` on SQLite; (b) two `serve`
instances sharing PostgreSQL (a fresh schema) and Redis (a fresh key prefix),
each receiving half of every key's feeds (skipped, saying so, when
PARTNER_INGEST_TEST_POSTGRES_URL or _REDIS_URL is not set).

Every key has a limit of LIMIT feeds a minute and sends 2 x LIMIT small valid
JSON feeds, spread evenly over 90 % of the run (at most 60 s, so one sliding
window holds them all; benchmarks/load.lua paces them). The rate limiter keeps
an exact sliding log (ADR 0015), so each key must have exactly
min(answered, LIMIT) feeds accepted and the rest answered 429, on one instance
as on two sharing Redis. Printed per setup: requests, 2xx, 429, 5xx, socket
errors, the expected number accepted, p50/p99 latency of the accepted feeds.
The exit code is 1 when there is any 5xx or socket error, when the counts
disagree with the limits, or when no key was pushed past its limit (a server too
slow to take 2 x LIMIT feeds per key: lower LOAD_LIMIT for short runs).

    make load                       # LOAD_SECONDS=60
    make load LOAD_SECONDS=15 LOAD_LIMIT=10       # CI
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import fresh_prefix, fresh_schema, partner_keys, served

HERE = Path(__file__).resolve().parent
PG_ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"
REDIS_ENV = "PARTNER_INGEST_TEST_REDIS_URL"


@attrs.frozen
class KeyCounts:
    answered: int
    accepted: int
    limited: int
    failed: int
    other: int


@attrs.define
class Outcome:
    """What wrk saw, summed over every wrk process of a setup."""

    keys: dict[int, KeyCounts] = attrs.field(factory=dict)
    latencies: list[float] = attrs.field(factory=list)
    socket_errors: int = 0

    def add(self, index: int, counts: KeyCounts) -> None:
        old = self.keys.get(index, KeyCounts(0, 0, 0, 0, 0))
        self.keys[index] = KeyCounts(
            *(a + b for a, b in zip(attrs.astuple(old), attrs.astuple(counts), strict=True))
        )


def run_wrk(
    url: str, keys: list[str], *, per_key: int, span: float, seconds: int, threads: int, tag: str
) -> subprocess.Popen[str]:
    """wrk running benchmarks/load.lua against `url` (read its output with communicate())."""
    env = {
        **os.environ,
        "LOAD_KEYS": ",".join(keys),
        "LOAD_THREADS": str(threads),
        "LOAD_PER_KEY": str(per_key),
        "LOAD_SPAN": f"{span:.3f}",
        "LOAD_TAG": tag,
    }
    command = ["wrk", "-t", str(threads), "-c", str(threads), "-d", f"{seconds}s", "--timeout", "30s"]
    command += ["-s", str(HERE / "load.lua"), url]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def read(output: str, outcome: Outcome) -> None:
    for line in output.splitlines():
        kind, *fields = line.split()
        if kind == "KEY":
            index, *counts = (int(f) for f in fields)
            outcome.add(index, KeyCounts(*counts))
        elif kind == "LAT":
            outcome.latencies.append(float(fields[0]))
        elif kind == "ERRORS":
            connect, read_, write, _status, timeout = (
                int(f) for f in fields
            )  # status: every non-2xx, 429s too
            outcome.socket_errors += connect + read_ + write + timeout


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def report(name: str, outcome: Outcome, limit: int, sent_per_key: int) -> bool:
    """Print the setup's figures; True when they are as the limits say."""
    totals = KeyCounts(
        *(sum(getattr(c, f) for c in outcome.keys.values()) for f in attrs.fields_dict(KeyCounts))
    )
    expected = sum(min(c.answered, limit) for c in outcome.keys.values())
    wrong = [i for i, c in outcome.keys.items() if c.accepted != min(c.answered, limit)]
    exact = not wrong and totals.limited == totals.answered - expected
    # A run in which no key went past its limit would prove nothing about the 429s.
    pushed = sum(1 for c in outcome.keys.values() if c.answered > limit)
    print(f"== {name}")
    print(f"   keys {len(outcome.keys)}, limit {limit}/min each, {sent_per_key} feeds sent per key")
    print(
        f"   requests {totals.answered}  2xx {totals.accepted}  429 {totals.limited}  5xx {totals.failed}"
        f"  other {totals.other}  socket errors {outcome.socket_errors}"
    )
    print(
        f"   accepted {totals.accepted}, the limits allow {expected}: "
        + ("as the limits say" if exact else f"MISMATCH (keys {wrong[:10]})")
    )
    print(f"   keys pushed past their limit: {pushed} of {len(outcome.keys)}" + ("" if pushed else " (NONE)"))
    print(
        f"   accepted feeds: p50 {percentile(outcome.latencies, 0.5) * 1000:.1f} ms"
        f"  p99 {percentile(outcome.latencies, 0.99) * 1000:.1f} ms"
    )
    return exact and pushed > 0 and totals.failed == 0 and totals.other == 0 and outcome.socket_errors == 0


def base_env(home: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": home,
        "TMPDIR": home,
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_LOG_LEVEL": "WARNING",
    }


def measure(urls: list[str], keys: list[str], args: argparse.Namespace, tag: str) -> Outcome:
    """Every key's 2 x limit feeds, split evenly over `urls`, one wrk process each, at once."""
    span = 0.9 * args.seconds
    per_key = 2 * args.limit // len(urls)
    runs = [
        run_wrk(
            url, keys, per_key=per_key, span=span, seconds=args.seconds, threads=args.threads, tag=f"{tag}{n}"
        )
        for n, url in enumerate(urls)
    ]
    outcome = Outcome()
    for process in runs:
        output, _ = process.communicate()
        read(output, outcome)
    return outcome


def sqlite_setup(args: argparse.Namespace, tmp: Path) -> bool:
    env = {**base_env(str(tmp)), "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp}/load.db"}
    keys = partner_keys(env, args.keys, args.limit)
    with served(env, tmp / "logs-sqlite") as url:
        outcome = measure([url], keys, args, tag="s")
    return report("(a) one serve on SQLite", outcome, args.limit, 2 * args.limit)


def shared_setup(args: argparse.Namespace, tmp: Path) -> bool:
    pg, redis_url = os.environ.get(PG_ENV), os.environ.get(REDIS_ENV)
    if not pg or not redis_url:
        print(f"== (b) two serve on PostgreSQL and Redis: skipped, {PG_ENV} and {REDIS_ENV} are not both set")
        return True
    from cryptography.fernet import Fernet

    with ExitStack() as stack:
        database = stack.enter_context(fresh_schema(pg, "load"))
        prefix = stack.enter_context(fresh_prefix(redis_url, "load"))
        env = {
            **base_env(str(tmp)),
            "PARTNER_INGEST_DATABASE_URL": database,
            "PARTNER_INGEST_REDIS_URL": redis_url,
            "PARTNER_INGEST_REDIS_PREFIX": prefix,
            "PARTNER_INGEST_KEY_HASH_SECRET": secrets.token_urlsafe(48),
            "PARTNER_INGEST_VAULT_KEYS": Fernet.generate_key().decode(),
        }
        keys = partner_keys(env, args.keys, args.limit)
        urls = [stack.enter_context(served(env, tmp / "logs-shared", name=f"serve-{n}")) for n in range(2)]
        outcome = measure(urls, keys, args, tag="p")
    return report("(b) two serve sharing PostgreSQL and Redis", outcome, args.limit, 2 * args.limit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each setup's run, at most 60")
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--limit", type=int, default=30, help="each key's feeds per minute")
    parser.add_argument(
        "--threads", type=int, default=10, help="wrk threads (one connection each) per instance"
    )
    args = parser.parse_args()
    if not 5 <= args.seconds <= 60:
        parser.error("--seconds must be from 5 to 60: every key's feeds must fit in one minute's window")
    if shutil.which("wrk") is None:
        print("load benchmark: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        good = sqlite_setup(args, Path(tmp))
        good = shared_setup(args, Path(tmp)) and good
    print("load: " + ("as the limits say, no 5xx" if good else "FAILED"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
