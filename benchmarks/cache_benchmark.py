"""Product cache benchmark (ADR 0017): 100 hot SKUs read 10,000 times during a sale, with and without the cache.

    .venv/bin/python benchmarks/cache_benchmark.py [--reads 10000] [--connections 32] [--rounds 2]
    make bench-cache

A catalog of 10,000 products (one partner, contract v2), each on sale in a window
that covers now. `partner-ingest serve` answers, and wrk (Debian `wrk`; two threads,
32 connections) sends exactly `--reads` GET /partner/products/HOT-nnn?at=<now>
requests spread evenly over the 100 hot SKUs, each authenticated with the partner's
key, as the platform reads during a sale. The same requests are sent to the same
catalog served without the cache (PARTNER_INGEST_PRODUCT_CACHE=false, the default)
and with it (true, lag 1 s), one after the other, best of `--rounds` by requests/s:

- SQLite: no cache, then the in-process cache;
- PostgreSQL (when PARTNER_INGEST_TEST_POSTGRES_URL is set; a fresh schema): the same;
- PostgreSQL and Redis (when PARTNER_INGEST_TEST_REDIS_URL is set too; rate limits in
  Redis either way): no cache, then the cache in Redis.

Each row prints requests/s, p50, p99, the answers that were not 2xx, the cache's
hits and misses from the server's /metrics, and the ratio of requests/s with the
cache to without. Before each HTTP row, the same reads through the library alone
(`app.products.get(...).price_at(now)` in one thread, no HTTP, no authentication):
what the cache saves on the product read itself. Every answer is checked to carry the sale price as its effective
price. The machine is shared: the ratio of runs taken side by side is the figure.
What the cache cannot save is printed beside it: every request still authenticates
its key against the store (ADR 0017 keeps keys uncached) and counts its rate limit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import fresh_prefix, fresh_schema, served

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.use_cases import FeedSubmission
from partner_ingest.domain.use_cases.manage_partners import PartnerChanges

HOT = 100
CATALOG = 10_000
PG_ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"
REDIS_ENV = "PARTNER_INGEST_TEST_REDIS_URL"
NOW = datetime.now(UTC)

# Each thread sends its share of the reads, cycling over the hot SKUs, then stops.
# Each thread sends its share of the reads, cycling over the hot SKUs, then stops; the last one to
# finish interrupts wrk (SIGINT, as Ctrl+C would), which otherwise sleeps out its whole -d.
LUA = """
local ffi = require("ffi")
ffi.cdef [[
int kill(int pid, int sig);
int getpid(void);
]]
sent, answered, wrong = 0, 0, 0
local per_thread = tonumber(os.getenv("CACHE_BENCH_PER_THREAD"))
local key = os.getenv("CACHE_BENCH_KEY")
local at = os.getenv("CACHE_BENCH_AT")
local finished = os.getenv("CACHE_BENCH_FINISHED")
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
request = function()
  sent = sent + 1
  local sku = string.format("HOT-%03d", sent % 100)
  return wrk.format("GET", "/partner/products/" .. sku .. "?at=" .. at, {["X-API-Key"] = key})
end
response = function(status, headers, body)
  answered = answered + 1
  if status == 200 and not string.find(body, '"effective_price":"7.50"', 1, true) then
    wrong = wrong + 1
  end
  if answered == per_thread then
    local file = io.open(finished, "a")
    file:write("done\\n")
    file:close()
    local count = 0
    for _ in io.lines(finished) do
      count = count + 1
    end
    wrk.thread:stop()
    if count >= 2 then
      ffi.C.kill(ffi.C.getpid(), 2)
    end
  end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("wrong")
  end
  io.write(string.format("WRONG %d\\n", total))
end
"""


@attrs.frozen
class Load:
    """One wrk run's figures, and the server's cache counters after it."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    wrong: int
    hits: int
    misses: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _metric(text: str, name: str) -> int:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def wrk(url: str, script: Path, key: str, *, reads: int, connections: int) -> Load:
    """`reads` hot reads from two wrk threads; the figures."""
    env = {
        **os.environ,
        "CACHE_BENCH_PER_THREAD": str(reads // 2),
        "CACHE_BENCH_KEY": key,
        "CACHE_BENCH_AT": quote(NOW.isoformat()),
        "CACHE_BENCH_FINISHED": str(script.with_suffix(f".{secrets.token_hex(4)}.finished")),
    }
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", "-d600s", "--latency", "-s", str(script), url],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    wrong = int(re.search(r"WRONG (\d+)", out).group(1))  # type: ignore[union-attr]
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        metrics = answer.read().decode()
    return Load(
        requests=count,
        requests_per_s=rate,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        wrong=wrong,
        hits=_metric(metrics, "partner_ingest_product_cache_hits_total"),
        misses=_metric(metrics, "partner_ingest_product_cache_misses_total"),
    )


@attrs.frozen
class Direct:
    """The library's reads alone: reads/s and per-read percentiles."""

    reads: int
    reads_per_s: float
    p50_us: float
    p99_us: float


def direct(env: dict[str, str], *, enabled: bool, reads: int) -> Direct:
    """`reads` hot reads through `app.products.get` in this thread, the cache on or off."""
    app = bootstrap.build(Settings.from_env({**env, "PARTNER_INGEST_PRODUCT_CACHE": str(enabled).lower()}))
    try:
        if app.product_cache is not None:
            app.product_cache.follow()
        times = []
        started = time.perf_counter()
        for n in range(reads):
            before = time.perf_counter()
            price = app.products.get("sale", f"HOT-{n % HOT:03d}").price_at(NOW)
            times.append(time.perf_counter() - before)
            assert price == Decimal("7.50"), price
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    times.sort()
    return Direct(reads, reads / elapsed, times[len(times) // 2] * 1e6, times[int(len(times) * 0.99)] * 1e6)


def catalog(env: dict[str, str]) -> str:
    """The partner, its 10,000 products on sale now, and its key."""
    app = bootstrap.build(Settings.from_env(env))
    try:
        changes = PartnerChanges(name="Sale", default_version=2, rate_limit_per_minute=1_000_000)
        app.partners.create("sale", changes, actor="benchmark")
        start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=6)
        lines = [
            json.dumps(
                {
                    "sku": f"HOT-{n:03d}" if n < HOT else f"SKU-{n:06d}",
                    "name": f"Sale item {n}",
                    "price": 10,
                    "sale_price": 7.5,
                    "sale_starts_at": start.isoformat(),
                    "sale_ends_at": end.isoformat(),
                    "currency": "EUR",
                    "quantity": 1 + n % 50,
                }
            )
            for n in range(CATALOG)
        ]
        body = io.BytesIO("\n".join(lines).encode())
        report = app.ingest(FeedSubmission(partner_id="sale", body=body, format="jsonl"))
        assert report.counts.created == CATALOG, report
        return app.keys.create(KeyRole.PARTNER, "sale", actor="benchmark").plaintext
    finally:
        app.close()


def compare(
    env: dict[str, str], logs: Path, script: Path, args: argparse.Namespace
) -> tuple[Direct, Direct, Load, Load]:
    """(library without the cache, with it, HTTP without, with) on the store `env` names,
    best of the rounds each."""
    key = catalog(env)
    plain = max(
        (direct(env, enabled=False, reads=args.reads) for _ in range(args.rounds)),
        key=lambda d: d.reads_per_s,
    )
    cached = max(
        (direct(env, enabled=True, reads=args.reads) for _ in range(args.rounds)), key=lambda d: d.reads_per_s
    )
    without: list[Load] = []
    with_cache: list[Load] = []
    for round_ in range(args.rounds):
        for enabled, runs in ((False, without), (True, with_cache)):
            server_env = {**env, "PARTNER_INGEST_PRODUCT_CACHE": "true" if enabled else "false"}
            name = f"serve-{'cache' if enabled else 'store'}-{round_}"
            with served(server_env, logs, name=name) as url:
                runs.append(wrk(url, script, key, reads=args.reads, connections=args.connections))
    return (
        plain,
        cached,
        max(without, key=lambda load: load.requests_per_s),
        max(with_cache, key=lambda load: load.requests_per_s),
    )


def report(title: str, plain: Direct, cached: Direct, without: Load, with_cache: Load) -> None:
    ratio = with_cache.requests_per_s / without.requests_per_s
    rows = [("", "requests", "requests/s", "p50", "p99", "not 2xx", "wrong price", "hits", "misses", "ratio")]
    for label, one in (("library, no cache", plain), ("library, cache", cached)):
        rows.append(
            (
                label,
                f"{one.reads:,}",
                f"{one.reads_per_s:,.0f}",
                f"{one.p50_us:.0f} us",
                f"{one.p99_us:.0f} us",
                "",
                "0",
                "",
                "",
                "1.00" if one is plain else f"{cached.reads_per_s / plain.reads_per_s:.2f}",
            )
        )
    for label, load in (("HTTP, no cache", without), ("HTTP, cache", with_cache)):
        rows.append(
            (
                label,
                f"{load.requests:,}",
                f"{load.requests_per_s:,.0f}",
                f"{load.p50_ms:.1f} ms",
                f"{load.p99_ms:.1f} ms",
                str(load.non_2xx),
                str(load.wrong),
                f"{load.hits:,}",
                f"{load.misses:,}",
                "1.00" if load is without else f"{ratio:.2f}",
            )
        )
    print(f"\n== {title}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reads", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("cache benchmark: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    print(
        f"{HOT} hot SKUs of a {CATALOG:,}-product catalog on sale, read {args.reads:,} times with ?at=now"
        f" by wrk (2 threads, {args.connections} connections); best of {args.rounds}"
    )
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        script = tmp / "reads.lua"
        script.write_text(LUA)
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PARTNER_INGEST_") or key.startswith("PARTNER_INGEST_TEST_")
        }
        base.update(PARTNER_INGEST_LOG_LEVEL="WARNING", PARTNER_INGEST_RATE_LIMIT_PER_MINUTE="100000000")
        sqlite_env = {**base, "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp / 'cache.db'}"}
        report("SQLite, in-process cache", *compare(sqlite_env, tmp / "logs-sqlite", script, args))

        pg, redis_url = os.environ.get(PG_ENV), os.environ.get(REDIS_ENV)
        if not pg:
            print(f"\n== PostgreSQL: skipped, {PG_ENV} is not set")
            return 0
        from cryptography.fernet import Fernet

        secrets_env = {
            "PARTNER_INGEST_KEY_HASH_SECRET": secrets.token_urlsafe(48),
            "PARTNER_INGEST_VAULT_KEYS": Fernet.generate_key().decode(),
        }
        with fresh_schema(pg, "cache_bench") as database:
            pg_env = {**base, **secrets_env, "PARTNER_INGEST_DATABASE_URL": database}
            subprocess.run(
                [str(Path(sys.executable).parent / "partner-ingest"), "migrate"], env=pg_env, check=True
            )
            report("PostgreSQL, in-process cache", *compare(pg_env, tmp / "logs-pg", script, args))
        if not redis_url:
            print(f"\n== PostgreSQL and Redis: skipped, {REDIS_ENV} is not set")
            return 0
        with ExitStack() as stack:
            database = stack.enter_context(fresh_schema(pg, "cache_bench"))
            prefix = stack.enter_context(fresh_prefix(redis_url, "cache-bench"))
            shared_env = {
                **base,
                **secrets_env,
                "PARTNER_INGEST_DATABASE_URL": database,
                "PARTNER_INGEST_REDIS_URL": redis_url,
                "PARTNER_INGEST_REDIS_PREFIX": prefix,
            }
            subprocess.run(
                [str(Path(sys.executable).parent / "partner-ingest"), "migrate"], env=shared_env, check=True
            )
            report(
                "PostgreSQL and Redis (rate limits in Redis), cache in Redis",
                *compare(shared_env, tmp / "logs-shared", script, args),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
