"""The API fuzzer: schemathesis against a real `partner-ingest serve` on loopback, zero failures.

The test starts `partner-ingest serve` on a SQLite file of its own (rate limits
raised so the fuzzer is never throttled, the in-process scheduler off so no
partner endpoint the fuzzer invents is pulled), takes the admin key the first
start prints (the bootstrap admin key), creates the fuzzer's partner and key
plus a victim partner and key for the operations that would take the fuzzer's
own credentials away (tests/e2e/api_fuzz.toml), and runs `st run` with every
check of the installed schemathesis, and its phases: examples, coverage (under the CI
profile and in `make api-fuzz`), fuzzing, and stateful, following the document's links:
create a partner -> read it, issue a key -> rotate it, send a feed as a job -> read the job.

`API_FUZZ_EXAMPLES` sets the examples per operation (a short run by default: 10 under
the CI hypothesis profile, 3 in a developer's `make test`; `make api-fuzz` runs it long);
the seed is random unless `API_FUZZ_SEED` replays a run.
The summary (operations, test cases, failures) is printed and kept under the
test's temporary folder with the JSON report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import settings
from support.examples import CI_EXAMPLES, thorough
from support.processes import Process

from partner_ingest.domain.use_cases.read_changes import MAX_WAIT_SECONDS

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("api_fuzz.toml")
# schemathesis's `st`, its worker threads kept from parsing at once (the launcher says why).
ST = [sys.executable, "-P", str(Path(__file__).parents[1] / "support" / "st_serial_ast.py")]
# Every phase and check runs at either count, and every operation meets at least this many cases
# of each; the fuzzing phase is most of the run and scales with it, so the developer's quick
# profile (support/examples.py) meets 3 an operation where CI, which draws new ones each run, meets 10.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10" if settings().max_examples >= CI_EXAMPLES else "3"))
SEED = os.environ.get("API_FUZZ_SEED", "")
# hypothesis keeps its Unicode tables (which characters each codec encodes, each category's code
# points) in its storage directory, by default `.hypothesis` in the working directory: `st` runs in
# the test's own folder, so it rebuilt them every run, a scan of all 1.1 million code points per
# codec. It shares the suite's storage instead (the repository's, where
# pytest's own hypothesis keeps the same tables), so whichever builds them first writes them for
# both. Its example database stays in the test's folder, new each run as before.
STORAGE = Path(__file__).parents[2] / ".hypothesis"
# Every check this schemathesis has, named so that a new version's new check is a decision.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
# CI (and `make api-fuzz`) runs every phase. A developer's run leaves out the coverage phase:
# it follows no seed and no --max-examples, enumerating the same boundary cases of the same
# document every run (three quarters of this test's time), so what it can find CI finds on
# the first run after the change; the seeded phases, which meet new cases every run, stay
# (docs/ADR/0012-testability.md).
ALL_PHASES = "examples,coverage,fuzzing,stateful"
PHASES = os.environ.get("API_FUZZ_PHASES", ALL_PHASES if thorough() else "examples,fuzzing,stateful")


def _environment(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_INGEST_")}
    env.update(
        PARTNER_INGEST_DATABASE_URL=f"sqlite:///{database}",
        PARTNER_INGEST_LOG_LEVEL="WARNING",
        PARTNER_INGEST_LOG_FORMAT="text",
        PARTNER_INGEST_RATE_LIMIT_PER_MINUTE="1000000",
        PARTNER_INGEST_ADMIN_RATE_LIMIT_PER_MINUTE="1000000",
        # The ignored_auth check sends bad keys on purpose: they must not block the fuzzer's address.
        PARTNER_INGEST_AUTH_FAILURES_PER_MINUTE="1000000",
        PARTNER_INGEST_IN_PROCESS_SCHEDULER="false",
        PARTNER_INGEST_WORKER_POLL_SECONDS="0.2",
        PARTNER_INGEST_MAX_SYNC_BYTES=str(256 * 1024),
        PARTNER_INGEST_MAX_BODY_BYTES=str(1024 * 1024),
    )
    return env


def _documented(base_url: str) -> list[tuple[str, str]]:
    document = httpx2.get(f"{base_url}/openapi.json", timeout=30).json()
    return [(path, method) for path, item in document["paths"].items() for method in item]


def _created(answer: httpx2.Response) -> dict[str, str]:
    assert answer.status_code == 201, answer.text
    body: dict[str, str] = answer.json()
    return body


def _credentials(base_url: str, admin: str) -> dict[str, str]:
    """The fuzzer's partner and key, and the victims of revoke, rotate and partner changes."""
    with httpx2.Client(base_url=base_url, headers={"X-API-Key": admin}, timeout=30) as client:
        for partner in ("fuzz-co", "victim-co"):
            _created(client.post("/admin/partners", json={"id": partner, "name": partner}))
        key = _created(client.post("/admin/partners/fuzz-co/keys", json={"label": "fuzzer"}))
        victim = _created(client.post("/admin/partners/victim-co/keys", json={"label": "victim"}))
        # A feed stored, so the product, import and job routes have something to find.
        example = client.get("/partner/contract/example", params={"format": "json", "version": 1})
        feed_headers = {"X-API-Key": key["api_key"], "Content-Type": "application/json"}
        stored = client.post("/partner/ingest", content=example.content, headers=feed_headers)
        assert stored.status_code == 200, stored.text
    return {
        "API_FUZZ_ADMIN_KEY": admin,
        "API_FUZZ_PARTNER_KEY": key["api_key"],
        "API_FUZZ_VICTIM_KEY_ID": victim["id"],
        "API_FUZZ_VICTIM_PARTNER": "victim-co",
    }


def _summary(report: dict[str, Any]) -> str:
    """One line a reader needs: operations, test cases, failures, time, seed (to replay)."""
    operations, cases = report["operations"], report["test_cases"]
    return (
        f"schemathesis {report['schemathesis_version']}: {operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} test cases, {cases['with_failures']} with failures "
        f"({cases['unique_failures']} unique), {operations['errored']} errored, "
        f"{report['running_time']:.0f} s, seed {report['seed']}"
    )


def test_the_api_fuzzer_finds_no_failure_on_a_real_serve(tmp_path: Path) -> None:
    server = Process.start(
        "serve",
        ["serve", "--host", "127.0.0.1", "--port", "0"],
        _environment(tmp_path / "fuzz.db"),
        tmp_path / "logs",
    )
    try:
        admin = server.wait_for_output(r"ADMIN_KEY=(pcia_\S+)").group(1)
        base_url = server.wait_for_output(r"serving (http://\S+) on").group(1)
        env = {"HYPOTHESIS_STORAGE_DIRECTORY": str(STORAGE), **os.environ, **_credentials(base_url, admin)}
        report = tmp_path / "report.json"
        command = [
            *ST,
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            PHASES,
            "--max-examples",
            str(EXAMPLES),
            # Two operations at a time: one generates its next case while the server answers the
            # other's, about halving the run. The server serves concurrent clients anyway, and every
            # status a concurrent change can cause (404, 409) is an expected one (api_fuzz.toml).
            "--workers",
            "2",
            # hypothesis's health check on how fast cases are drawn measures the machine, not the
            # API: on a loaded 2-core runner two operations' strategies failed it (ADR 0029).
            "--suppress-health-check",
            "too_slow",
            "--generation-database",
            str(tmp_path / ".hypothesis" / "examples"),
            "--report",
            "json",
            "--report-json-path",
            str(report),
            # Beyond the change feed's longest long poll (`wait`), which is an answer, not a hang.
            "--request-timeout",
            str(int(MAX_WAIT_SECONDS) + 15),
            *(["--seed", SEED] if SEED else []),
        ]
        # In the test's folder: schemathesis keeps a cache of its own in the working directory.
        run = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=3000, check=False
        )
        (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
        assert report.exists(), f"{run.stdout[-5000:]}\n{run.stderr[-3000:]}"
        found = json.loads(report.read_text())
        summary = _summary(found)
        print(f"\n$ st run --checks <all {len(CHECKS)}> --phases {PHASES} -n {EXAMPLES} ...\n{summary}")
        assert run.returncode == 0, f"{run.stdout[-20000:]}\n{run.stderr[-3000:]}\n{server.tail()}"
        operations, cases = found["operations"], found["test_cases"]
        # Every documented operation but GET /openapi.json, which schemathesis reads rather than tests.
        assert operations["tested"] == operations["total"] == len(_documented(base_url)) - 1, summary
        assert cases["with_failures"] == 0 and cases["errored"] == 0 and not found["failures"], summary
        assert cases["generated"] >= operations["total"] * min(EXAMPLES, 5), summary
    finally:
        server.stop()
    assert "Traceback" not in server.stderr(), server.tail(40)
