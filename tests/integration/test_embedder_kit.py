"""The kits reach an embedder as they say (ADR 0031): examples/embedder_kit/ stands for an
embedder's project with a rate limiter of its own; run by pytest in a process of its own,
from a copy outside this repository, the kit's plugin loads by its `pytest11` entry point
and holds that limiter to every test of the contract our limiters pass. The same limiter
with one comparison mutated fails them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import attrs
import pytest

from partner_ingest.testing.rate_limiter import RateLimiterContract
from partner_ingest.testing.storage import StorageContract

pytestmark = pytest.mark.slow  # each test runs pytest in a fresh interpreter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embedder_kit"
# No cache, and of the plugins installed here only the kit's: the others (schemathesis, hypothesis,
# xdist, coverage, timeout, anyio) serve this repository's own suite, an embedder's pytest would not
# load them, and their imports were two thirds of each run's start.
QUIET_PLUGINS = (
    "-p",
    "no:cacheprovider",
    *(
        option
        for entry in sorted({e.name for e in metadata.entry_points(group="pytest11")} - {"partner_ingest"})
        for option in ("-p", f"no:{entry}")
    ),
)
KIT_TESTS = sorted(name for name in dir(RateLimiterContract) if name.startswith("test_"))


@attrs.frozen
class Run:
    passed: list[str]
    failed: list[str]
    output: str


def run_example(tmp_path: Path, mutate: tuple[str, str] | None = None) -> Run:
    """The example's pytest, from a copy in `tmp_path` (so this repository's config is not
    in effect), with `mutate` applied to the limiter's source."""
    project = tmp_path / "embedder"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    if mutate is not None:
        source = project / "token_window.py"
        before, after = mutate
        text = source.read_text()
        assert text.count(before) == 1, f"the mutation's text {before!r} is not in the example once"
        source.write_text(text.replace(before, after))
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *QUIET_PLUGINS, f"--junitxml={report}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    passed: list[str] = []
    failed: list[str] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        (failed if case.find("failure") is not None else passed).append(case.get("name", ""))
    return Run(sorted(passed), sorted(failed), done.stdout + done.stderr)


def test_the_embedders_limiter_passes_every_test_of_the_kit(tmp_path: Path) -> None:
    result = run_example(tmp_path)
    assert len(KIT_TESTS) == 9
    assert result.passed == KIT_TESTS, result.output
    assert result.failed == [], result.output
    assert f"{len(KIT_TESTS)} passed" in result.output


@pytest.mark.parametrize(
    ("mutate", "caught_by"),
    [
        # One hit too many per window.
        (("if len(times) < limit:", "if len(times) <= limit:"), "test_allows_up_to_the_limit_then_refuses"),
        # Blocks never double.
        (
            ("level = level + 1 if", "level = 0 if"),
            "test_blocks_double_within_the_forget_period_up_to_the_max",
        ),
    ],
    ids=["off-by-one", "no-doubling"],
)
def test_a_broken_limiter_fails_the_kit(tmp_path: Path, mutate: tuple[str, str], caught_by: str) -> None:
    result = run_example(tmp_path, mutate)
    assert result.failed, result.output
    assert set(result.passed) | set(result.failed) == set(KIT_TESTS)
    assert caught_by in result.failed, result.output


def test_a_suite_enabled_without_its_fixture_says_which_fixture_to_define(tmp_path: Path) -> None:
    (tmp_path / "test_forgot.py").write_text(
        "from partner_ingest.testing.storage import StorageContract\n\n\n"
        "class TestForgotTheFixture(StorageContract):\n    pass\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            *QUIET_PLUGINS,
            "--rootdir",
            str(tmp_path),
            "test_forgot.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    tests = sum(1 for name in dir(StorageContract) if name.startswith("test_"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{tests} errors" in done.stdout, done.stdout
    assert (
        "the partner_ingest kit needs a `store_under_test` fixture: define it in your conftest.py"
        in done.stdout
    )
