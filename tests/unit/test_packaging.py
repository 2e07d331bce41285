"""The namespace mapping of ARCHITECTURE.md: one name per module, no top-level `domain`."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTIONS = ("domain", "ports", "adapters_in", "adapters_out", "plugins", "testing")


def test_top_level_folders_are_not_importable_under_their_own_names() -> None:
    # `import domain` must fail, so no module is ever loaded under two names. (tests/
    # is on the path for shared helpers, so `plugins` may find tests/plugins: a
    # folder of tests, not the code folder, which is what matters.)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("domain")
    for name in PORTIONS:
        spec = importlib.util.find_spec(name)
        locations = [] if spec is None else [Path(p).resolve() for p in spec.submodule_search_locations or []]
        assert ROOT / name not in locations, f"the code folder {name}/ is importable as a top-level package"


def test_every_code_folder_is_a_listed_package_with_py_typed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for portion in PORTIONS:
        for init in (ROOT / portion).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT)
            found.add("partner_ingest." + ".".join(relative.parts))
        assert (ROOT / portion / "py.typed").is_file(), f"{portion}/py.typed is missing"
    # Folders of data files (migrations, samples) are listed too, so setuptools ships them
    # without a warning; they hold no module.
    found.add("partner_ingest")  # package/__init__.py: the namespace's own module (__version__)
    data = {name for name in listed - found if not any((ROOT / _folder(name)).glob("*.py"))}
    for name in data:
        assert any((ROOT / _folder(name)).iterdir()), f"{name} is listed but its folder is empty or missing"
    assert found | data == listed, (
        f"pyproject packages differ from the folders: missing {found - listed}, stale {listed - found - data}"
    )


def _folder(package: str) -> Path:
    return Path(*package.split(".")[1:])


def test_the_version_is_the_installed_distributions() -> None:
    import partner_ingest

    assert partner_ingest.__version__ == importlib.metadata.version("partner-catalog-ingest")
    assert (
        partner_ingest.__version__
        == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )
    assert partner_ingest.__file__ is not None
    assert Path(partner_ingest.__file__).resolve() == ROOT / "package" / "__init__.py"


def test_the_namespace_resolves_to_this_checkout() -> None:
    module = importlib.import_module("partner_ingest.domain.model.product")
    assert module.__name__ == "partner_ingest.domain.model.product"
    assert module.__file__ is not None
    assert Path(module.__file__).resolve() == ROOT / "domain" / "model" / "product.py"


def test_the_generated_secrets_and_the_default_database_are_ignored_by_git() -> None:
    names = [
        "partner-ingest.secrets.json",
        "partner-ingest.db",
        "partner-ingest.db-wal",
        "partner-ingest.db-shm",
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == names
