"""Does `/healthz` still answer at once while four gzip bombs are being received? (ADR 0026)

A real `partner-ingest serve` on loopback (SQLite, default limits: the body cap
PARTNER_INGEST_MAX_BODY_BYTES is 512 MiB after decompression). Four clients
each post, again and again, a ~1 MiB gzip body that inflates to 1 GiB (sent as
a job, so the whole body cap applies: each is refused 413 at 512 MiB), while one
client polls `/healthz` every 10 ms. The baseline is the same polling with no
attack, in the same run, against the same server. Target: p99 under 100 ms
during the attack; the exit code is 1 when it is missed.

    make bench-loop                      # = .venv/bin/python benchmarks/event_loop_benchmark.py
    .venv/bin/python benchmarks/event_loop_benchmark.py --seconds 20 --attackers 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import partner_keys, served

MiB = 1 << 20
TARGET_P99 = 0.100


def gzip_bomb(inflated: int) -> bytes:
    """About inflated / 1000 bytes of gzip that inflate to `inflated` zero bytes (16 MiB members)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = packer.compress(bytes(16 * MiB)) + packer.flush()
    return member * (inflated // (16 * MiB))


def poll(base: str, seconds: float, until: threading.Event | None = None) -> list[float]:
    """Latencies of GET /healthz every 10 ms for `seconds` (at least), on one keep-alive connection."""
    latencies = []
    with httpx2.Client(base_url=base, timeout=60) as client:
        client.get("/healthz")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or (until is not None and not until.is_set()):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    return latencies


def attack(base: str, key: str, bomb: bytes, stop: threading.Event, answers: list[int]) -> None:
    headers = {"X-API-Key": key, "Content-Encoding": "gzip", "Prefer": "respond-async"}
    with httpx2.Client(base_url=base, headers=headers, timeout=300) as client:
        while not stop.is_set():
            answers.append(client.post("/partner/ingest", content=bomb).status_code)


def wait_for_answers(answers: list[int], count: int, enough: threading.Event) -> None:
    while len(answers) < count:
        time.sleep(0.05)
    enough.set()


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name:>14}: {len(ordered):5d} polls  p50 {statistics.median(ordered) * 1000:7.1f} ms"
        f"  p99 {p99 * 1000:7.1f} ms  max {ordered[-1] * 1000:7.1f} ms"
    )


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="polling time, with and without the attack"
    )
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--inflated-mib", type=int, default=1024, help="what each bomb inflates to")
    args = parser.parse_args()
    bomb = gzip_bomb(args.inflated_mib * MiB)
    with tempfile.TemporaryDirectory(prefix="loop-bench-") as tmp:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": tmp,
            "TMPDIR": tmp,
            "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp}/loop.db",
            "PARTNER_INGEST_LOG_LEVEL": "WARNING",
            **{k: v for k, v in os.environ.items() if k == "PARTNER_INGEST_BODY_THREADS"},
        }
        (key,) = partner_keys(env, 1, limit=100_000)
        with served(env, Path(tmp) / "logs") as base:
            baseline = poll(base, args.seconds)
            stop = threading.Event()
            answers: list[int] = []
            attackers = [
                threading.Thread(target=attack, args=(base, key, bomb, stop, answers))
                for _ in range(args.attackers)
            ]
            for attacker in attackers:
                attacker.start()
            # The attack lasts `seconds` and until every attacker has had a bomb refused.
            enough = threading.Event()
            watcher = threading.Thread(target=wait_for_answers, args=(answers, args.attackers, enough))
            watcher.start()
            during = poll(base, args.seconds, until=enough)
            stop.set()
            for attacker in attackers:
                attacker.join()
            watcher.join()
    statuses = {status: answers.count(status) for status in sorted(set(answers))}
    print(
        f"bombs: {len(bomb) / MiB:.2f} MiB gzip inflating to {args.inflated_mib} MiB, {args.attackers} clients"
    )
    print(f"bomb answers: {statuses}")
    print(summary("baseline", baseline))
    print(summary("during attack", during))
    met = p99(during) < TARGET_P99 and set(statuses) == {413}
    print(f"target p99 < {TARGET_P99 * 1000:.0f} ms during the attack: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
