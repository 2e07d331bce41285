"""Ingest benchmark: the library against SQLite's own speed, and against what a user would write.

    .venv/bin/python benchmarks/ingest_benchmark.py            # everything (1M-product RSS runs included)
    .venv/bin/python benchmarks/ingest_benchmark.py --quick    # 20,000 products (--count N), no 1M runs
    .venv/bin/python benchmarks/ingest_benchmark.py --memory-only  # peak RSS at 100,000 and 1,000,000 (P4)
    .venv/bin/python benchmarks/ingest_benchmark.py --quick --postgres postgresql://postgres@127.0.0.1/test

In one run, on the same machine and the same table:
(a) the limit: raw sqlite3 `executemany` of the upsert statement with every
    column bound (`UPSERT_SQL`), the rows already built as tuples, in one
    transaction, on a connection opened as the library opens its own (WAL,
    synchronous=FULL, the same page cache); and (a') the same rows through the statement the library
    runs, which folds the columns a batch leaves empty into NULL literals
    (ADR 0002): shown beside it, since the library's ratio to (a) includes
    that gain;
(b) the library's full sync ingest (parse, validate, repeats, upsert, ledger,
    audit) through `IngestFeed` and the SQLite adapter, per format, wired as
    the service wires it: the front half in a parser process (ADR 0019),
    started before the clock starts, as a running service has it; and (b')
    the same ingest parsed in the ingesting thread, as with PARSER_PROCESSES=0;
(c) pydantic v2 models plus `executemany` (benchmarks/pydantic_baseline.py);
and the peak RSS of ingesting 100,000 and 1,000,000 products per format, each
in a fresh process (the ingesting process and its parser process, summed).
Figures are printed with their ratios and the targets of issue #3; nothing
here asserts (benchmarks inform, tests decide).

How the ratios are taken: this machine is shared, and its speed drifts by a
third within minutes (more for two busy processes than for one). So each
format runs ROUNDS times, each run after a run of (a), and its ratio is its
best run over the best of the (a) runs beside it; (c) runs between the json
runs. The (a) row is the best of every run of (a), and each (b) row also
says its share of that.

With a PostgreSQL URL (--postgres, or PARTNER_INGEST_TEST_POSTGRES_URL) a
PostgreSQL section follows (issue #6), in a schema of its own dropped at the
end: (p-a) the limit, COPY of the prebuilt rows into the staging table plus the
adapter's own upsert statement, one transaction; (p-b) `executemany` of the
same upsert one row per statement, the alternative the adapter rejected;
(p-c) a bare COPY into the empty table, the server's floor; (p-d) the full
json v2 ingest through `IngestFeed` and the PostgreSQL store, whose ratio to
(p-a) has the target; (p-e) the same feed again, every product unchanged.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.adapters_out.parser_processes import ParserProcesses
from partner_ingest.adapters_out.sqlite.products import UPSERT_SQL, batch_time, stamped, upsert_statement
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.system import UuidIds
from partner_ingest.domain.model import Dimensions, Partner, Product
from partner_ingest.domain.model.product import PRODUCT_COLUMNS
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import load_formats

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
FORMATS = ("json", "jsonl", "csv", "xml")
TARGETS = {"json": 0.60, "jsonl": 0.60, "csv": 0.45, "xml": 0.30}
"""Ratios of the whole `partner-ingest ingest` process to (a), issue 17."""
PYDANTIC_TARGET = 2.5
POSTGRES_TARGET = 0.55
BATCH = 1000  # rows per upsert, as IngestFeed batches them
FEED_ID = "raw-limit"  # the import the raw limit's rows record, as every ingest's do
ROUNDS = 3  # runs of each format, each after a run of (a)
RSS_LIMIT_MB = 90
RSS_GROWTH = 1.1
STARTUP_TARGET_S = 0.15
STARTUP_TARGET_MB = 25.0


_NAMES = (
    "Product number {n} deluxe",
    "Café crème machine {n}",
    "Müller Schraubendreher Nr. {n}",
    "Łódź linen towel {n}",
    "東京 tea set {n}",
    "Ωmega 3 capsules, pack of {n}",
)
_DESCRIPTIONS = (
    "A sturdy product for everyday use, with a two-year warranty.",
    "Fabriqué en France; lavable à 40 °C.",
    "Compact, quiet and easy to clean.",
)
_MULTI_LINE = "Features:\n- stainless steel\n- dishwasher safe\nSize:\t20 x 10 cm"
_SALE_FROM = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
_SALE_TO = datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC)


def products(count: int, *, seed: int = 7) -> Iterator[Product]:
    """A realistic catalog mix (ADR 0039): 12% of items on sale with a sale window, 7% with a
    multi-line or tabbed description, 10% priced in JPY (no decimals), non-ASCII names, and
    optional fields present or absent item by item, so no column a v2 feed carries is empty
    in a whole batch."""
    rnd = random.Random(seed)
    for n in range(count):
        jpy = rnd.random() < 0.10
        price = Decimal(rnd.randint(100, 99_999)) if jpy else Decimal(rnd.randint(100, 999_999)).scaleb(-2)
        sale = rnd.random() < 0.12
        roll = rnd.random()
        if roll < 0.07:
            description: str | None = _MULTI_LINE
        elif roll < 0.85:
            description = _DESCRIPTIONS[n % len(_DESCRIPTIONS)]
        else:
            description = None
        yield Product(
            partner_id="bench",
            sku=f"SKU-{n:08d}",
            name=_NAMES[n % len(_NAMES)].format(n=n),
            price=price,
            currency="JPY" if jpy else "EUR",
            quantity=rnd.randint(0, 5000),
            brand="Acme" if rnd.random() < 0.8 else None,
            manufacturer="Acme Industries GmbH & Co. KG" if rnd.random() < 0.7 else None,
            gtin="4006381333931" if rnd.random() < 0.75 else None,
            description=description,
            image_url=f"https://img.example.com/p/{n}.jpg" if rnd.random() < 0.95 else None,
            dimensions=Dimensions(Decimal("10.5"), Decimal("20"), Decimal("3.25"), "cm")
            if rnd.random() < 0.6
            else None,
            sale_price=(price * Decimal("0.8")).quantize(Decimal(1) if jpy else Decimal("0.01"))
            if sale
            else None,
            sale_starts_at=_SALE_FROM if sale else None,
            sale_ends_at=_SALE_TO if sale else None,
        )


def write_feed(fmt_name: str, count: int) -> Path:
    """The feed file (cached in benchmarks/.data), written in chunks: never whole in memory."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"feed-{count}-mix.{fmt_name}"
    if path.exists():
        return path
    fmt = load_formats().get(fmt_name, 2)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        chunk: list[Product] = []
        first = True
        for n, product in enumerate(products(count), start=1):
            chunk.append(product)
            if len(chunk) == 10_000 or n == count:
                out.write(_piece(fmt_name, fmt.render(chunk), first=first, last=n == count))
                chunk, first = [], False
    tmp.rename(path)
    return path


def _piece(fmt_name: str, rendered: bytes, *, first: bool, last: bool) -> bytes:
    # Splice chunk renderings into one document: keep the head of the first,
    # the tail of the last, and only the items of the rest.
    if fmt_name == "jsonl":
        return rendered
    if fmt_name == "csv":
        return rendered if first else rendered.split(b"\r\n", 1)[1]
    if fmt_name == "json":
        head, body = rendered.split(b"\n", 1)
        body, tail = body.rsplit(b"\n]", 1)
        return (head + b"\n" if first else b",\n") + body + (b"\n]" + tail if last else b"")
    head, rest = rendered.split(b"<catalog>\n", 1)
    body, tail = rest.rsplit(b"</catalog>", 1)
    return (head + b"<catalog>\n" if first else b"") + body + (b"</catalog>" + tail if last else b"")


FOREIGN = {"gmc-xml": "xml", "gmc-tsv": "csv", "shopify-csv": "csv"}
"""Each foreign format (issue 18) and the built-in format of its family it must keep up with."""
FOREIGN_TARGET = 1.5


def write_foreign_feed(fmt_name: str, count: int) -> Path:
    """The feed of `products(count)` in a foreign format (cached like `write_feed`)."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"feed-{count}-mix.{fmt_name}"
    if path.exists():
        return path
    fmt = load_formats().get(fmt_name, 2)
    tmp = path.with_suffix(".tmp")
    if fmt_name != "gmc-xml":
        # A delimited export's columns are those its products use, so it is rendered whole:
        # pieces rendered apart would each have a header of their own.
        chosen = list(products(count))
        if fmt_name == "gmc-tsv":
            # Merchant Center's tab-separated files cannot carry a tab or a line break in a
            # value (it has no quoting), so its partners' texts have none.
            flat = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
            chosen = [
                attrs.evolve(p, description=p.description.translate(flat)) if p.description else p
                for p in chosen
            ]
        tmp.write_bytes(fmt.render(chosen))
        tmp.rename(path)
        return path
    with tmp.open("wb") as out:
        chunk: list[Product] = []
        first = True
        for n, product in enumerate(products(count), start=1):
            chunk.append(product)
            if len(chunk) == 10_000 or n == count:
                rendered = fmt.render(chunk)
                if fmt_name == "gmc-xml":
                    head, rest = rendered.split(b"  <item>", 1)
                    body, tail = rest.rsplit(b"</channel>", 1)
                    piece = (
                        (head if first else b"")
                        + b"  <item>"
                        + body
                        + (b"</channel>" + tail if n == count else b"")
                    )
                else:
                    piece = rendered if first else rendered.split(b"\r\n", 1)[1]
                out.write(piece)
                chunk, first = [], False
    tmp.rename(path)
    return path


def foreign_rate(directory: Path, fmt_name: str, path: Path) -> float:
    """Products/s of one full ingest, parsed in the ingesting thread (the stricter comparison:
    no parser process overlaps parsing with writing), for a partner whose currency is EUR."""
    count = int(path.stem.split("-")[1])
    store = fresh_store(directory, "foreign.db")
    clock = FakeClock()
    with store.unit_of_work() as uow:
        partner = Partner(id="bench", name="Bench", created_at=clock.now(), default_version=2, currency="EUR")
        uow.partners.add(partner)
        uow.commit()
    ingest = IngestFeed(store.unit_of_work, load_formats(), clock, SequentialIds())
    gc.collect()
    with path.open("rb") as body:
        started = time.perf_counter()
        report = ingest(FeedSubmission(partner_id="bench", body=body, format=fmt_name, version=2))
        elapsed = time.perf_counter() - started
    store.close()
    assert report.counts.created == count, (fmt_name, report.status, report.feed_error, report.errors[:3])
    return count / elapsed


def foreign_section(directory: Path, count: int, feeds: dict[str, Path]) -> None:
    """Each foreign format beside the built-in format of its family, runs alternating, best of ROUNDS."""
    print(
        f"\nforeign formats (issue 18) against the built-in format of their family, {count:,} products, in-thread:"
    )
    rows = [("format", "products/s", "built-in", "products/s", "built-in / foreign", "target", "")]
    for name, family in FOREIGN.items():
        path = write_foreign_feed(name, count)
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(ROUNDS):
            theirs.append(foreign_rate(directory, family, feeds[family]))
            mine.append(foreign_rate(directory, name, path))
        ratio = max(theirs) / max(mine)
        verdict = "ok" if ratio <= FOREIGN_TARGET else "ABOVE"
        rows.append(
            (f"{name} v2", f"{max(mine):,.0f}", f"{family} v2", f"{max(theirs):,.0f}", f"{ratio:.2f}x",
             f"<= {FOREIGN_TARGET}x", verdict)
        )  # fmt: skip
    table(rows)


def fresh_store(directory: Path, name: str) -> SqliteStore:
    for suffix in ("", "-wal", "-shm"):
        (directory / f"{name}{suffix}").unlink(missing_ok=True)
    return SqliteStore(directory / name)


class RawLimit:
    """(a) products/s of executemany alone, rows prebuilt, one transaction; (a') with
    `folded`, through the library's statement for each batch. Built once, run often.

    Bound as a plain sqlite3 program binds them: without the adapter for None that the
    library's connections register (`bind_none_directly`, ADR 0039), which would make
    this limit faster by what the library gained, not what a program without it does."""

    def __init__(self, directory: Path, count: int, *, folded: bool = False) -> None:
        rows = [p.to_row() for p in products(count)]
        at = batch_time()
        self._batches = [
            upsert_statement(rows[start : start + BATCH], at, FEED_ID)
            if folded
            else (UPSERT_SQL, stamped(rows[start : start + BATCH], at, FEED_ID))
            for start in range(0, count, BATCH)
        ]
        self._directory = directory
        self._count = count

    def run(self) -> float:
        store = fresh_store(self._directory, "raw.db")
        conn = store.connection()
        gc.collect()
        adapter = sqlite3.adapters.pop(_NONE_KEY, None)
        try:
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            for sql, parameters in self._batches:
                conn.executemany(sql, parameters)
            conn.execute("COMMIT")
            rate = self._count / (time.perf_counter() - started)
        finally:
            if adapter is not None:
                sqlite3.adapters[_NONE_KEY] = adapter
        store.close()
        return rate


_NONE_KEY = (type(None), sqlite3.PrepareProtocol)


def library(directory: Path, fmt_name: str, path: Path, parsing: ParserProcesses | None) -> tuple[float, str]:
    """(b) products/s of one full ingest through the use case."""
    count = int(path.stem.split("-")[1])
    store = fresh_store(directory, "lib.db")
    clock = FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="bench", name="Bench", created_at=clock.now(), default_version=2))
        uow.commit()
    ingest = IngestFeed(store.unit_of_work, load_formats(), clock, SequentialIds(), parsing=parsing)
    gc.collect()
    with path.open("rb") as body:
        started = time.perf_counter()
        report = ingest(FeedSubmission(partner_id="bench", body=body, format=fmt_name, version=2))
        elapsed = time.perf_counter() - started
    store.close()
    return count / elapsed, f"{report.status}, {report.counts.created} created"


def pydantic_rate(directory: Path, path: Path) -> float:
    """(c) products/s of one run of pydantic v2 + executemany on the json v2 feed."""
    sys.path.insert(0, str(HERE))
    import pydantic_baseline

    count = int(path.stem.split("-")[1])
    document = path.read_bytes()
    store = fresh_store(directory, "pyd.db")
    gc.collect()
    started = time.perf_counter()
    pydantic_baseline.ingest(store.connection(), "bench", document)
    rate = count / (time.perf_counter() - started)
    store.close()
    return rate


def defusedxml_rate(path: Path) -> float:
    """Elements of the bare defusedxml streaming parse, as products/s (no work per item)."""
    from defusedxml.ElementTree import iterparse

    count = int(path.stem.split("-")[1])
    started = time.perf_counter()
    root = None
    for event, element in iterparse(str(path), events=("start", "end")):
        if event == "start" and root is None:
            root = element
        elif event == "end" and element.tag == "product" and root is not None:
            root.clear()
    return count / (time.perf_counter() - started)


def _tree(root: int) -> list[int]:
    """`root` and every descendant alive now (children of every thread, recursively)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                queue.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_process(argv: list[str], env: dict[str, str], *, sample: bool = False) -> tuple[float, float, int]:
    """Wall seconds of one whole process run; with `sample`, the peak RSS (MB) of its process
    tree too, the sum over every process of its VmHWM read until it exits (every 10 ms), and
    the number of processes seen. Raises on a non-zero exit."""
    peaks: dict[int, int] = {}
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while sample and process.poll() is None:
        for pid in _tree(process.pid):
            peaks[pid] = max(peaks.get(pid, 0), _hwm_kb(pid))
        time.sleep(0.01)
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:2]} exited {process.returncode}: {stderr.decode()[-500:]}")
    return elapsed, sum(peaks.values()) / 1024, len(peaks)


CLI = str(Path(sys.executable).with_name("partner-ingest"))


class WholeProcess:
    """The commands users run, each a fresh process on a fresh SQLite file with the bench partner."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._runs = 0

    def _database(self) -> Path:
        self._runs += 1
        store = fresh_store(self._directory, "cli.db")
        with store.unit_of_work() as uow:
            uow.partners.add(
                Partner(id="bench", name="Bench", created_at=FakeClock().now(), default_version=2)
            )
            uow.commit()
        store.close()
        return self._directory / "cli.db"

    def env(self, database: Path) -> dict[str, str]:
        env = {**os.environ, "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{database}"}
        env.pop("PARTNER_INGEST_REDIS_URL", None)
        return env

    def ingest(self, fmt_name: str, path: Path, *, sample: bool = False) -> tuple[float, float, int]:
        """(products/s of `partner-ingest ingest FILE`, wall time from exec to exit; peak MB; processes)."""
        count = int(path.stem.split("-")[1])
        database = self._database()
        argv = [CLI, "ingest", str(path), "--partner", "bench", "--format", fmt_name, "--version", "2"]
        elapsed, peak, processes = run_process(argv, self.env(database), sample=sample)
        return count / elapsed, peak, processes

    def pydantic(self, path: Path) -> float:
        """Products/s of the pydantic script as a whole process (python benchmarks/pydantic_baseline.py)."""
        count = int(path.stem.split("-")[1])
        database = self._database()
        argv = [sys.executable, str(HERE / "pydantic_baseline.py"), str(database), str(path)]
        return count / run_process(argv, self.env(database))[0]

    def startup(self) -> tuple[float, float, float, float]:
        """(seconds, VmRSS MB) of `partner-ingest ingest`'s start-up (imports, settings, store opened,
        before reading a byte), and of a bare `python -c` beside it, best of 5 each."""
        database = self._database()
        env = self.env(database)
        ours, bare = [], []
        for _ in range(5):
            ours.append(self._startup_once([sys.executable, "-c", STARTUP], env))
            bare.append(self._startup_once([sys.executable, "-c", BARE_STARTUP], env))
        return (
            min(t for t, _ in ours),
            min(m for _, m in ours),
            min(t for t, _ in bare),
            min(m for _, m in bare),
        )

    @staticmethod
    def _startup_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
        started = time.perf_counter()
        out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
        return time.perf_counter() - started, float(out)

    def importtime(self, top: int = 8) -> list[tuple[str, float]]:
        """Where the start-up's import time goes: self time (ms, `python -X importtime`) summed per
        top-level package, heaviest first."""
        env = self.env(self._database())
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", STARTUP],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stderr
        totals: dict[str, float] = {}
        for line in err.splitlines():
            parts = line.split("|")
            if len(parts) != 3 or not parts[0].split(":")[-1].strip().isdigit():
                continue
            package = parts[2].strip().split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(parts[0].split(":")[-1]) / 1000
        return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


_VMRSS = "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024)"
STARTUP = (
    "from partner_ingest.adapters_in.cli.main import parser\n"
    "from partner_ingest.adapters_in import bootstrap\n"
    "from partner_ingest.adapters_in.settings import Settings\n"
    "argv = ['ingest', 'f.json', '--partner', 'bench']\n"
    "parser(argv).parse_args(argv)\n"
    "app = bootstrap.build(Settings.from_env())\n" + _VMRSS + "\napp.close()\n"
)
"""What `partner-ingest ingest` does before it reads a byte of the feed."""
BARE_STARTUP = _VMRSS


def compile_library() -> str:
    """Compile the library's modules to bytecode (__pycache__) before any process is timed, and
    say so. A wheel installed by pip has its bytecode compiled at install time, so users never
    compile the library when a command starts; an editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 (set on the shared benchmark machine) would compile every module
    in every process the benchmark starts, the CLI and its parser helper alike, and the
    whole-process and start-up figures would time the compiler (ADR 0039)."""
    import partner_ingest

    root = Path(partner_ingest.__file__).parent
    compileall.compile_dir(str(root), quiet=1, workers=1)
    setting = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return (
        f"library bytecode compiled before timing, as pip install does (PYTHONDONTWRITEBYTECODE={setting!r})"
    )


def best_of(runs: int, measure: Callable[[], float]) -> float:
    """The best of `runs` measurements (products/s): the least disturbed by the shared machine."""
    return max(measure() for _ in range(runs))


def postgres_section(url: str, path: Path, count: int) -> None:
    """The PostgreSQL rows: the library against the raw limit, in a schema dropped afterwards."""
    from partner_ingest.adapters_out.postgres.connection import Connection, describe_url
    from partner_ingest.adapters_out.postgres.products import (
        COPY_SQL,
        STAGE,
        UPSERT_FROM_STAGE_SQL,
        UPSERT_ROW_SQL,
    )
    from partner_ingest.adapters_out.postgres.store import PostgresStore

    rows = [p.to_row() for p in products(count)]
    fed = [(*row, FEED_ID) for row in rows]  # UPSERT_ROW_SQL's parameters: the row, then its import
    store = PostgresStore(url, schema=f"partner_ingest_bench_{secrets.token_hex(4)}", pool_size=2)

    def timed(work: Callable[[Connection], None]) -> float:
        with store.connection() as conn:
            conn.execute("TRUNCATE product")
        gc.collect()
        with store.connection() as conn:  # one transaction, committed by the context
            started = time.perf_counter()
            work(conn)
            conn.commit()
            return count / (time.perf_counter() - started)

    def copy_upsert(conn: Connection) -> None:
        with conn.cursor() as cur:
            for start in range(0, count, BATCH):
                with cur.copy(COPY_SQL) as copy:
                    for row in rows[start : start + BATCH]:
                        copy.write_row(row)
                cur.execute(UPSERT_FROM_STAGE_SQL, (FEED_ID,)).fetchone()
                cur.execute(f"TRUNCATE {STAGE}")

    def executemany_upsert(conn: Connection) -> None:
        with conn.cursor() as cur:
            for start in range(0, count, BATCH):
                cur.executemany(UPSERT_ROW_SQL, fed[start : start + BATCH], returning=True)
                while True:  # read every count, as an adapter built on executemany would
                    cur.fetchall()
                    if not cur.nextset():
                        break

    def bare_copy(conn: Connection) -> None:
        columns = ", ".join(PRODUCT_COLUMNS)
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY product ({columns}, created_at, updated_at) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((*row, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))

    clock = FakeClock()
    formats = load_formats()
    statuses: list[str] = []
    parsing = ParserProcesses()
    parsing.warm()

    def library(*, again: bool = False) -> float:
        if not again:
            with store.connection() as conn:
                # CASCADE: the tables that reference the ledger (held feeds, ...) are emptied too.
                conn.execute("TRUNCATE product, partner_feed_imports CASCADE")
        gc.collect()
        # new feed ids every run; parsed in a parser process, as the service wires it
        ingest = IngestFeed(store.unit_of_work, formats, clock, UuidIds(), parsing=parsing)
        source = path
        if again:
            # One more byte, so it is not answered as a repeat of the same document
            # (ADR 0023) but processed: every product found unchanged.
            source = path.with_name(f"{path.stem}-again.json")
            if not source.exists():
                source.write_bytes(path.read_bytes() + b"\n")
        with source.open("rb") as body:
            started = time.perf_counter()
            report = ingest(FeedSubmission(partner_id="bench", body=body, format="json", version=2))
            elapsed = time.perf_counter() - started
        counts = report.counts
        statuses.append(f"{report.status}, {counts.created} created, {counts.unchanged} unchanged")
        return count / elapsed

    try:
        with store.unit_of_work() as uow:
            uow.partners.add(Partner(id="bench", name="Bench", created_at=clock.now(), default_version=2))
            uow.commit()
        with store.connection() as conn:
            version = conn.execute("SHOW server_version").fetchone()
        limit = best_of(3, lambda: timed(copy_upsert))
        many = timed(executemany_upsert)  # once: it is the slow one
        floor = best_of(3, lambda: timed(bare_copy))
        rate = best_of(2, library)
        fresh_status = statuses[-1]
        again = library(again=True)
    finally:
        parsing.close()
        store.drop_schema_and_close()

    ratio = rate / limit
    print(
        f"\nPostgreSQL {version[0] if version else '?'} at {describe_url(url)}, schema {store.schema} (dropped):"
    )
    table(
        [
            ("what", "products/s", "ratio to (p-a)", "target", "", "notes"),
            (
                "(p-a) raw COPY + upsert",
                f"{limit:,.0f}",
                "1.00",
                "",
                "",
                "rows prebuilt, the adapter's statements",
            ),
            (
                "(p-b) raw executemany upsert",
                f"{many:,.0f}",
                f"{many / limit:.2f}",
                "",
                "",
                "same upsert, a statement per row",
            ),
            (
                "(p-c) raw COPY, no upsert",
                f"{floor:,.0f}",
                f"{floor / limit:.2f}",
                "",
                "",
                "plain insert, empty table",
            ),
            (
                "(p-d) library, json v2",
                f"{rate:,.0f}",
                f"{ratio:.2f}",
                f">= {POSTGRES_TARGET:.2f}",
                "ok" if ratio >= POSTGRES_TARGET else "BELOW",
                fresh_status,
            ),
            ("(p-e) library, same feed again", f"{again:,.0f}", f"{again / limit:.2f}", "", "", statuses[-1]),
        ]
    )
    print(f"COPY + upsert / executemany upsert: {limit / many:.2f}x")


def table(rows: Iterable[tuple[str, ...]]) -> None:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def whole_process_section(
    directory: Path,
    count: int,
    feeds: dict[str, Path],
    raw: RawLimit,
    in_process: dict[str, float],
    rounds: int,
) -> None:
    """`partner-ingest ingest FILE` as users run it: a fresh process, wall time from exec to exit,
    each run after a run of (a) in this process; the pydantic script as a whole process too."""
    whole = WholeProcess(directory)
    rates: dict[str, float] = {}
    beside: dict[str, float] = {}
    pydantic_runs: list[float] = []
    for name in FORMATS:
        mine: list[float] = []
        adjacent: list[float] = []
        for _ in range(rounds):
            adjacent.append(raw.run())
            mine.append(whole.ingest(name, feeds[name])[0])
            if name == "json":
                pydantic_runs.append(whole.pydantic(feeds["json"]))
        rates[name], beside[name] = max(mine), max(adjacent)
    pydantic = max(pydantic_runs)
    print(
        f"\nwhole process, `partner-ingest ingest FILE` on a fresh SQLite file, {count:,} products, best of {rounds}:"
    )
    rows = [("what", "products/s", "(a) beside it", "ratio", "target", "", "in-process (b) for comparison")]
    for name in FORMATS:
        ratio = rates[name] / beside[name]
        rows.append(
            (f"CLI {name} v2", f"{rates[name]:,.0f}", f"{beside[name]:,.0f}", f"{ratio:.2f}",
             f">= {TARGETS[name]:.2f}", "ok" if ratio >= TARGETS[name] else "BELOW",
             f"{in_process[name]:,.0f}/s; the process costs {1 - rates[name] / in_process[name]:.0%}")
        )  # fmt: skip
    speedup = rates["json"] / pydantic
    rows.append(
        (
            "pydantic script, json v2",
            f"{pydantic:,.0f}",
            "",
            "",
            "",
            "",
            "python benchmarks/pydantic_baseline.py",
        )
    )
    rows.append(
        ("CLI json / pydantic script", f"{speedup:.2f}x", "", "", f">= {PYDANTIC_TARGET}x",
         "ok" if speedup >= PYDANTIC_TARGET else "BELOW", "both whole processes, runs alternating")
    )  # fmt: skip
    table(rows)
    startup_section(whole)


def startup_section(whole: WholeProcess) -> None:
    """P5: the start-up of `partner-ingest ingest`, beside a bare `python -c`, and where its import time goes."""
    started, rss, bare_started, bare_rss = whole.startup()
    print(
        "\nstart-up of `partner-ingest ingest` (imports, settings, store opened; before reading a byte), best of 5:"
    )
    table(
        [
            ("what", "wall", "VmRSS", "target", ""),
            ("bare `python -c` (baseline)", f"{bare_started * 1000:.0f} ms", f"{bare_rss:.1f} MB", "", ""),
            ("partner-ingest ingest", f"{started * 1000:.0f} ms", f"{rss:.1f} MB",
             f"<= {STARTUP_TARGET_S * 1000:.0f} ms, <= {STARTUP_TARGET_MB:.0f} MB",
             "ok" if started <= STARTUP_TARGET_S and rss <= STARTUP_TARGET_MB else "BELOW"),
        ]
    )  # fmt: skip
    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in whole.importtime())
    print(f"import time by package (python -X importtime, self time summed): {heaviest}")


def memory_section(directory: Path, count: int, feeds: dict[str, Path], *, quick: bool) -> None:
    """Peak RSS of the whole `partner-ingest ingest` process tree (the CLI, its parser helper)."""
    whole = WholeProcess(directory)
    sizes = [count] if quick else [100_000, 1_000_000]
    print(
        "\npeak RSS of `partner-ingest ingest`'s process tree (sum of each process's VmHWM, sampled every 10 ms):"
    )
    rows = [("format", *(f"{n:,} products" for n in sizes), "growth", "target", "")]
    for name in FORMATS:
        peaks = []
        for size in sizes:
            path = feeds[name] if size == count else write_feed(name, size)
            _, peak, processes = whole.ingest(name, path, sample=True)
            peaks.append((peak, processes))
        cells = [f"{peak:.1f} MB ({processes} processes)" for peak, processes in peaks]
        if quick:
            rows.append((name, *cells, "", f"<= {RSS_LIMIT_MB} MB at 1,000,000", ""))
            continue
        growth = peaks[-1][0] / peaks[0][0]
        verdict = "ok" if peaks[-1][0] <= RSS_LIMIT_MB and growth <= RSS_GROWTH else "BELOW"
        rows.append((name, *cells, f"{growth:.2f}x", f"<= {RSS_LIMIT_MB} MB, <= {RSS_GROWTH}x", verdict))
    table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="20,000 products, 2 rounds, no 1M memory runs")
    parser.add_argument("--count", type=int, help="products per feed (default 200,000; --quick 20,000)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("PARTNER_INGEST_TEST_POSTGRES_URL"),
        help="also run the PostgreSQL section on this server (default: $PARTNER_INGEST_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--postgres-only", action="store_true", help="run only the PostgreSQL section")
    parser.add_argument(
        "--foreign-only", action="store_true", help="run only the foreign formats' section (issue 18)"
    )
    parser.add_argument("--no-http", action="store_true", help="leave out the HTTP section")
    parser.add_argument(
        "--startup-only", action="store_true", help="run only the start-up section (P5), a few seconds"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="run only the peak-memory section, at 100,000 and 1,000,000 products (P4)",
    )
    args = parser.parse_args()

    # --memory-only measures 100,000 and 1,000,000: its feeds are those sizes, none besides.
    count = args.count or (20_000 if args.quick else 100_000 if args.memory_only else 200_000)
    rounds = 2 if args.quick else ROUNDS
    print(
        f"partner-catalog-ingest ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
    )
    print(
        "Every ratio is of runs taken side by side in this run (alternating, best of N); on a shared\n"
        "machine the absolute figures drift, the ratios less, and neither is exact."
    )
    print(compile_library())
    if args.startup_only:  # needs no feed
        with tempfile.TemporaryDirectory() as tmp:
            startup_section(WholeProcess(Path(tmp)))
        return
    print(f"generating {count:,}-product feeds (cached in {DATA}) ...", flush=True)
    feeds = {name: write_feed(name, count) for name in FORMATS}
    if args.postgres_only:
        if not args.postgres:
            parser.error("--postgres-only needs --postgres URL (or PARTNER_INGEST_TEST_POSTGRES_URL)")
        postgres_section(args.postgres, feeds["json"], count)
        return
    if args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            memory_section(Path(tmp), count, feeds, quick=False)
        return
    if args.foreign_only:
        with tempfile.TemporaryDirectory() as tmp:
            foreign_section(Path(tmp), count, feeds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        raw = RawLimit(directory, count)
        in_process = in_process_section(directory, count, feeds, raw, rounds)
        whole_process_section(directory, count, feeds, raw, in_process, rounds)
        memory_section(directory, count, feeds, quick=args.quick)
        if not args.quick:
            try:
                foreign_section(directory, count, feeds)
            except (
                AssertionError
            ) as error:  # a foreign format refusing part of the mix is a finding, not a crash
                print(f"foreign formats: not every product was created: {error}")
    if not args.no_http:
        import http_benchmark

        http_benchmark.section(seconds=5 if args.quick else 10)
    if args.postgres:
        postgres_section(args.postgres, feeds["json"], count)


def in_process_section(
    directory: Path, count: int, feeds: dict[str, Path], raw: RawLimit, rounds: int
) -> dict[str, float]:
    """The library in this process (a warm parser helper, as a running service has it), beside (a)."""
    # The machine is shared and its speed drifts by a third within minutes, more for two
    # busy processes than for one: each format's runs alternate with runs of (a), and
    # its ratio is to those, measured beside it; best of `rounds` for each.
    folded = best_of(rounds, RawLimit(directory, count, folded=True).run)
    limit_runs = [raw.run() for _ in range(rounds)]
    rates: dict[str, float] = {}
    beside: dict[str, float] = {}
    statuses: dict[str, str] = {}
    in_thread: dict[str, float] = {}
    pydantic_runs: list[float] = []
    parsing = ParserProcesses()
    parsing.warm()
    for name in FORMATS:
        mine: list[float] = []
        adjacent: list[float] = []
        for _ in range(rounds):
            adjacent.append(raw.run())
            rate, statuses[name] = library(directory, name, feeds[name], parsing)
            mine.append(rate)
            if name == "json":  # (c) beside the json runs it is compared with
                pydantic_runs.append(pydantic_rate(directory, feeds["json"]))
        rates[name], beside[name] = max(mine), max(adjacent)
        limit_runs += adjacent
        in_thread[name] = max(library(directory, name, feeds[name], None)[0] for _ in range(2))
    parsing.close()
    limit = max(limit_runs)
    baseline = max(pydantic_runs)
    print(f"\nin process, {count:,} products (the realistic mix), a warm parser helper:")
    rows = [("what", "products/s", "ratio to (a)", "target (CLI)", "", "notes")]
    rows.append(
        ("(a) raw executemany upsert", f"{limit:,.0f}", "1.00", "", "",
         f"rows prebuilt, one transaction, every column bound (NULLs too); best of {len(limit_runs)} runs")
    )  # fmt: skip
    rows.append(
        ("(a') the same, library's statement", f"{folded:,.0f}", f"{folded / limit:.2f}", "", "",
         "columns empty in a whole batch as NULL literals (only `extra` here)")
    )  # fmt: skip
    for name in FORMATS:
        rate = rates[name]
        ratio = rate / beside[name]
        note = f"(a) beside it {beside[name]:,.0f}/s; {feeds[name].stat().st_size / count:.0f} B/item; {statuses[name]}"
        if name == "xml":
            note += f"; bare defusedxml parse {defusedxml_rate(feeds['xml']):,.0f}/s"
        rows.append(
            (f"(b) library, {name} v2", f"{rate:,.0f}", f"{ratio:.2f}", f">= {TARGETS[name]:.2f}", "", note)
        )
    for name in FORMATS:
        rows.append(
            (f"(b') {name} v2, parsed in-thread", f"{in_thread[name]:,.0f}", f"{in_thread[name] / limit:.2f}", "", "",
             f"IngestFeed without parsing= (PARSER_PROCESSES=0); the helper gives {rates[name] / in_thread[name]:.2f}x")
        )  # fmt: skip
    rows.append(
        ("(c) pydantic v2 + executemany", f"{baseline:,.0f}", f"{baseline / limit:.2f}", "", "",
         "json v2, whole document; runs between the json runs")
    )  # fmt: skip
    table(rows)
    print(f"library json v2 / pydantic, in process: {rates['json'] / baseline:.2f}x")
    return rates


if __name__ == "__main__":
    main()
