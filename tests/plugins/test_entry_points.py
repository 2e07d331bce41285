"""The TSV plugin shipped as a distribution with an entry point in group `partner_ingest`
is found by `load_formats()` with no code change, through importlib.metadata as pip would
leave it: first a site directory holding the package and its `.dist-info` (written from the
example's own pyproject.toml), then a real `pip install` run in a child process."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.domain.model import FeedStatus, Partner
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.plugins import DuplicateFormatError, build_plugin_manager, hookimpl, load_formats
from partner_ingest.ports.formats import FormatRegistrar

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_format"
PROJECT = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
LABEL = f"tsv (entry point of {PROJECT['name']} {PROJECT['version']})"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path laid out as an installer lays out site-packages."""
    site = tmp_path / "site-packages"
    shutil.copytree(EXAMPLE / "partner_ingest_tsv", site / "partner_ingest_tsv")
    dist_info = site / f"{PROJECT['name'].replace('-', '_')}-{PROJECT['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PROJECT['name']}\nVersion: {PROJECT['version']}\n"
    )
    lines: list[str] = []
    for group, entries in PROJECT["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(site))
    # Imported fresh from the site directory, not the copy the other tests use.
    monkeypatch.delitem(sys.modules, "partner_ingest_tsv", raising=False)
    return site


def test_the_example_declares_its_entry_point_in_the_partner_ingest_group() -> None:
    assert PROJECT["entry-points"] == {"partner_ingest": {"tsv": "partner_ingest_tsv"}}


def test_an_installed_distribution_is_discovered_with_no_code_change(site: Path) -> None:
    formats = load_formats()
    assert formats.versions("tsv") == [1, 2]
    assert formats.plugin_of("tsv", 1) == LABEL
    distributions = build_plugin_manager().list_plugin_distinfo()
    [plugin] = [plugin for plugin, dist in distributions if dist.project_name == PROJECT["name"]]
    plugin_file = getattr(plugin, "__file__", None)
    assert plugin_file is not None and Path(plugin_file).is_relative_to(site)

    store, clock = InMemoryStore(), FakeClock()
    with store.unit_of_work() as uow:
        uow.partners.add(Partner(id="acme", name="Acme", created_at=clock.now(), default_version=2))
        uow.commit()
    body = b"sku\tname\tprice\tcurrency\tquantity\tdimensions.width\tdimensions.height\tdimensions.depth\tdimensions.unit\n"
    body += b"D-1\tDesk\t199.00\tEUR\t2\t120\t75\t60\tcm\n"
    report = IngestFeed(store.unit_of_work, formats, clock, SequentialIds())(
        FeedSubmission(partner_id="acme", body=io.BytesIO(body), format="tsv")
    )
    assert (report.version, report.status, report.counts.created) == (2, FeedStatus.ACCEPTED, 1)
    with store.unit_of_work() as uow:
        desk = uow.products.get("acme", "D-1")
    assert desk is not None and desk.dimensions is not None and desk.dimensions.unit == "cm"


def test_a_blocked_or_absent_distribution_adds_nothing(site: Path) -> None:
    assert load_formats(block=["tsv"]).versions("tsv") == []
    assert load_formats(entry_points=False).versions("tsv") == []


class SecondTsv:
    @hookimpl
    def partner_ingest_register_formats(self, register: FormatRegistrar) -> None:
        from partner_ingest_tsv import TsvFeed

        register(TsvFeed(2))


def test_a_clash_with_an_entry_point_names_the_distribution(site: Path) -> None:
    with pytest.raises(DuplicateFormatError) as raised:
        load_formats(plugins=[SecondTsv()])
    assert raised.value.plugins == (LABEL, f"{__name__}.SecondTsv")
    assert LABEL in str(raised.value) and "SecondTsv" in str(raised.value)


CHILD = textwrap.dedent(
    """
    import json
    from partner_ingest.plugins import load_formats
    import partner_ingest_tsv

    formats = load_formats()
    print(json.dumps({
        "versions": formats.versions("tsv"),
        "plugin": formats.plugin_of("tsv", 1),
        "module": partner_ingest_tsv.__file__,
    }))
    """
)


def test_pip_install_of_the_example_package_is_found_by_a_fresh_interpreter(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source, target = tmp_path / "source", tmp_path / "installed"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert list(target.glob("partner_ingest_tsv-*.dist-info/entry_points.txt"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    found = json.loads(child.stdout)
    assert found["versions"] == [1, 2]
    assert found["plugin"] == LABEL
    assert Path(found["module"]).is_relative_to(target)
