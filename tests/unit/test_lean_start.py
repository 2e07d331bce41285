"""A process that only ingests does not import the HTTP fetcher, cryptography or anything else only the
server needs (ADR 0039): they are imported on first use, and still work then."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

PROBE = """
import sys
from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.cli.main import parser
from partner_ingest.adapters_in.settings import Settings

app = bootstrap.build(Settings(database_url="sqlite:///{db}"))
print(sorted(m for m in ("cryptography", "partner_ingest.adapters_out.fetcher.http_fetcher")
             if m in sys.modules))
token = app.vault.encrypt("s3cret")
print(app.vault.decrypt(token), "cryptography" in sys.modules)
app.close()
"""


def test_start_up_defers_the_http_fetcher_and_cryptography_until_first_used(tmp_path: Path) -> None:
    code = PROBE.format(db=tmp_path / "lean.db")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out == ["[]", "s3cret True"]


INGEST = """
import json, sys
from partner_ingest.adapters_in.cli.main import main

assert main(["partners", "add", "acme", "--name", "Acme"]) == 0
assert main(["ingest", sys.argv[1], "--partner", "acme", "--format", "jsonl"]) == 0
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(","))))
"""
SERVER_ONLY = (
    "cryptography",
    "prometheus_client",
    "starlette",
    "uvicorn",
    "jinja2",
    "multipart",
    "rich",
    "ssl",
    "http",
    "urllib.request",
    "multiprocessing",
    "cronsim",
    "psycopg",
    "redis",
)
"""What a CLI ingest never needs (ADR 0039): the server's packages, TLS and HTTP clients, and
multiprocessing (the parser helper's pipes are `adapters_out/frames.py`)."""


def test_a_cli_ingest_through_its_parser_helper_imports_nothing_the_server_needs(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    item = '{{"sku": "SKU-{n}", "name": "Product {n}", "price": 9.99, "currency": "EUR", "quantity": 1}}\n'
    # Past the size below which a feed is parsed in the ingesting process: the helper is used.
    # That size lowered from its 2 MiB, so the feed need not be one the child spends its time on.
    helper_from = 64 * 1024
    feed.write_text("".join(item.format(n=n) for n in range(1_000)))
    assert feed.stat().st_size > helper_from
    env = {
        **os.environ,
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'lean.db'}",
        "PARTNER_INGEST_PARSER_MIN_BYTES": str(helper_from),
    }
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    wanted = ",".join(sorted({name.split(".")[0] for name in SERVER_ONLY}))
    out = subprocess.run(
        [sys.executable, "-c", INGEST, str(feed), wanted],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert "1000 created" in out[-2]
    loaded = set(json.loads(out[-1]))
    assert sorted(name for name in SERVER_ONLY if name in loaded) == []


START_UP = """
import json, sys
from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.cli.main import parser
from partner_ingest.adapters_in.settings import Settings

argv = ["ingest", "f.json", "--partner", "acme"]
parser(argv).parse_args(argv)  # as the CLI does: the command's group only
app = bootstrap.build(Settings.from_env())
before = sorted(sys.modules)
partners = app.partners.list_partners()
print(json.dumps([before, sorted(sys.modules), len(partners), app.partners is app.partners]))
app.close()
"""
BUILT_ON_FIRST_USE = (
    "partner_ingest.domain.use_cases.authenticate",
    "partner_ingest.domain.use_cases.ingest_feed",
    "partner_ingest.domain.use_cases.manage_partners",
    "partner_ingest.domain.use_cases.pull_feeds",
    "partner_ingest.domain.use_cases.webhooks",
    "partner_ingest.domain.use_cases.replay",
    "partner_ingest.adapters_in.background",
    "partner_ingest.adapters_in.logs",
    "partner_ingest.plugins",
    "pluggy",
    "importlib.metadata",
    "email",
    "logging",
    "logging.handlers",
)
"""What the composition root builds, and the CLI imports, only when a command first uses it
(ADR 0042): every use case, the installed formats (pluggy reads the entry points through
importlib.metadata, which imports email), the background loops, the log set-up and `logging`
itself (the store's writer imports it on the first line it logs)."""


def _start_up(tmp_path: Path) -> tuple[list[str], list[str], int, bool]:
    """The modules loaded by the start-up probe, and after listing partners (their count, and
    whether the use case was kept)."""
    env = {**os.environ, "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'lean.db'}"}
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", START_UP], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    before, after, partners, kept = json.loads(out)
    return before, after, partners, kept


def test_start_up_imports_no_use_case_nor_format_until_one_is_used(tmp_path: Path) -> None:
    before, after, partners, kept = _start_up(tmp_path)
    assert [name for name in BUILT_ON_FIRST_USE if name in before] == []
    # First used, the use case is built (its module imported then), once, and it works.
    assert "partner_ingest.domain.use_cases.manage_partners" in after
    assert "partner_ingest.domain.use_cases.ingest_feed" not in after
    assert partners == 0
    assert kept is True


LOADED_ON_FIRST_USE = (
    "_hashlib",
    "hashlib",
    "hmac",
    "secrets",
    "partner_ingest.domain.model.api_keys",
    "partner_ingest.domain.model.audit_chain",
    "partner_ingest.domain.model.audit",
    "partner_ingest.adapters_out.sql.partners",
    "partner_ingest.adapters_out.sql.ledger",
    "partner_ingest.adapters_out.sqlite.audit",
    "partner_ingest.adapters_out.sqlite.jobs",
    "partner_ingest.adapters_out.sqlite.products",
    "partner_ingest.domain.model.rules",
    "partner_ingest.domain.model.product",
    "partner_ingest.domain.model.currencies",
    "decimal",
    "partner_ingest.domain.model.report",
    "random",
    "partner_ingest.ports.rate_limit",
    "partner_ingest.adapters_out.sql.writer",
    "partner_ingest.adapters_out.sqlite.writer",
)
"""What opening the store and reading the settings need not load: OpenSSL (hashlib, hmac,
secrets), which the feed's hash, API keys, the audit chain and webhook signatures use when they
first run; the store's repositories and the models they map, imported by a unit of work's first
use of each (the port Protocols name the models for the type checker only); the contract's
rules, the product model and the currency table (with decimal), which the command line's help
does not need for the newest version's number, nor the settings unless a lifecycle is set;
the report's types, which an error needs only once a feed is malformed; `random`, which the
SQLite store draws from only to space its retries of a locked database; the rate-limit port,
whose failure policies only the Redis limiters are built with; the group-commit writer, which
only the HTTP server's answered feeds use (built on its first use, `Application.feed_writer`)."""


def test_start_up_loads_no_repository_nor_openssl_until_used(tmp_path: Path) -> None:
    before, after, partners, _ = _start_up(tmp_path)
    assert [name for name in LOADED_ON_FIRST_USE if name in before] == []
    # Listing partners reads them through their repository, imported on that first use.
    assert "partner_ingest.adapters_out.sql.partners" in after
    assert "partner_ingest.adapters_out.sqlite.products" not in after
    assert partners == 0


def test_a_use_case_is_built_once_and_shared_by_copies_unless_replaced() -> None:
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.domain.use_cases import DescribeContract

    app, _, _ = bootstrap.in_memory()
    copy = attrs.evolve(app, close=lambda: None)
    assert copy.ingest is app.ingest
    assert app.process_next_job._ingest is app.ingest  # the one ingest, shared
    own = DescribeContract(app.formats)
    replaced = app.replacing(describe_contract=own)
    assert replaced.describe_contract is own
    assert app.describe_contract is not own
    assert replaced.ingest is app.ingest  # built before the copy: shared
    with pytest.raises(TypeError, match="no_such_use_case"):
        app.replacing(no_such_use_case=own)


LOOPS = """
import json, sys
from partner_ingest.adapters_in import background, bootstrap
from partner_ingest.adapters_in.settings import Settings

app = bootstrap.build(Settings.from_env())
made = background.{loop}_for(app)
loaded = sorted(sys.modules)
writer = app.feed_writer
same = writer is app.feed_writer and app.replacing().feed_writer is writer
print(json.dumps([loaded, type(writer).__name__, same, "partner_ingest.adapters_out.sqlite.writer" in sys.modules]))
app.close()
"""
NOT_FOR_THE_WORKER = (
    "partner_ingest.adapters_in.scheduler",
    "partner_ingest.adapters_in.cache_follower",
    "partner_ingest.domain.use_cases.pull_feeds",
    "partner_ingest.adapters_out.cron",
    "partner_ingest.adapters_out.sqlite.writer",
    "secrets",
    "tempfile",
)
NOT_FOR_THE_SCHEDULER = (
    "partner_ingest.adapters_in.worker",
    "partner_ingest.adapters_in.cache_follower",
    "partner_ingest.domain.use_cases.ingest_feed",
    "partner_ingest.domain.use_cases.pipeline",
    "partner_ingest.domain.use_cases.process_job",
    "partner_ingest.domain.model.rules",
    "partner_ingest.domain.model.validation",
    "partner_ingest.adapters_out.sqlite.writer",
    "secrets",
    "hashlib",
    "socket",
)
"""What the background commands' start-up (ADR 0042) need not load: the other loop, the
group-commit writer (the HTTP server's), the ingest's pipeline, rules and validation for a
scheduler (it submits jobs; a worker runs them), OpenSSL until a pulled feed is hashed or a
circuit probed, and a socket for a scheduler (the worker's name holds the host's); the
rejection spool's temporary file (tempfile, with shutil) until a feed has a rejected item."""


@pytest.mark.parametrize(
    ("loop", "unneeded"), [("worker", NOT_FOR_THE_WORKER), ("scheduler", NOT_FOR_THE_SCHEDULER)]
)
def test_a_background_loop_starts_without_the_other_loop_or_the_writer(
    tmp_path: Path, loop: str, unneeded: tuple[str, ...]
) -> None:
    env = {**os.environ, "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'lean.db'}"}
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    env.pop("PARTNER_INGEST_GROUP_COMMIT", None)
    out = subprocess.run(
        [sys.executable, "-c", LOOPS.format(loop=loop)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    loaded, writer, same, imported = json.loads(out)
    assert [name for name in unneeded if name in loaded] == []
    # First asked for, the writer is opened, once, and shared by a copy of the application.
    assert (writer, same, imported) == ("SqliteWriter", True, True)


SERVE = """
import json, sys
import uvicorn

uvicorn.Server.run = lambda self, sockets=None: None  # up to "serving": the loop is not entered
from partner_ingest.adapters_in.cli.main import main

main(["serve", "--port", "0"])
print(json.dumps(sorted(sys.modules)))
"""
NOT_FOR_SERVING = ("jinja2", "markupsafe", "partner_ingest.adapters_out.sqlite.writer")
"""What `serve` need not load before it serves (ADR 0042): the pages' templates (jinja2), until
a page is rendered; the group-commit writer, until a feed is answered while its sender waits."""


def test_serve_starts_without_templates_nor_the_writer(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    env = {**os.environ, "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'lean.db'}"}
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    # The usual start, on a database that has its admin key: made here, as a first start makes it,
    # rather than by a first start in a process of its own (what this process imports is not measured).
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    first = bootstrap.build(Settings.from_env(env))
    try:
        assert first.keys.ensure_admin_key() is not None
    finally:
        first.close()
    run = [sys.executable, "-c", SERVE]
    out = subprocess.run(run, cwd=tmp_path, env=env, check=False, capture_output=True, text=True).stdout
    serving, loaded = out.splitlines()[0], set(json.loads(out.splitlines()[-1]))
    assert "partner-ingest: serving http://127.0.0.1:" in serving
    assert "First start" not in out
    assert [name for name in NOT_FOR_SERVING if name in loaded] == []


HELPER = """
import json, sys
from partner_ingest.adapters_out.parser_serve import serve
from partner_ingest.plugins import json_feed  # what unpickling a JSON feed's reading imports
print(json.dumps(sorted(sys.modules)))
"""
NOT_FOR_PARSING = (
    "partner_ingest.plugins.xml_feed",
    "partner_ingest.plugins.csv_feed",
    "partner_ingest.plugins.manager",
    "partner_ingest.adapters_in.settings",
    "partner_ingest.adapters_out.sqlite.store",
    "partner_ingest.domain.use_cases.ingest_feed",
    "defusedxml",
    "importlib.metadata",
    "logging",
    "subprocess",
    "sqlite3",
)
"""What a parser helper never needs to parse a JSON feed (ADR 0042): the other formats, the
plugin manager and the entry points, the settings, the store, the use cases, logging."""


def test_a_parser_helper_imports_what_parsing_needs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", HELPER], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert "partner_ingest.plugins.json_feed" in loaded
    assert [name for name in NOT_FOR_PARSING if name in loaded] == []


PARSE = """
import sys
from partner_ingest.adapters_in.cli.main import parser

for argv in (["ingest", "f.json", "--partner", "acme"], ["partners", "list"], ["keys", "list", "--admin"],
             ["migrate"], ["serve"], ["worker"], ["webhooks", "show", "acme"], ["imports", "held"]):
    parser().parse_args(argv)
loaded = sorted(sys.modules)
import json
print(json.dumps(loaded))
"""
PARSED_WITHOUT = (
    "partner_ingest.adapters_in.bootstrap",
    "partner_ingest.adapters_in.settings",
    "partner_ingest.adapters_in.json_forms",
    "partner_ingest.domain.model.errors",
    "partner_ingest.domain.model.policy",
    "partner_ingest.domain.model.webhooks",
    "partner_ingest.ports.formats",
    "attrs",
    "sqlite3",
    "logging",
    "json",
    "datetime",
    "signal",
    "shlex",
)
"""What building the parser and choosing a command never needs (ADR 0042): the command imports
what it runs once it runs, so `--help`, a usage error and every command's start pay only argparse."""


def test_the_parser_registers_every_command_without_importing_what_they_run(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PARSE], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert "partner_ingest.adapters_in.cli.admin" in loaded  # registered, so imported: the probe works
    assert [name for name in PARSED_WITHOUT if name in loaded] == []
