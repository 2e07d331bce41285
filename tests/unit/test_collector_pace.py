"""The collector's pace a command sets for its own process: raised for the block, then restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import cli

from partner_ingest.adapters_in.cli._collector import GC_YOUNG_THRESHOLD, fewer_young_collections


@pytest.fixture
def default_pace() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_young_collections_are_fewer_inside_the_block_and_restored_after(
    default_pace: tuple[int, int, int],
) -> None:
    with fewer_young_collections():
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *default_pace[1:])
    assert gc.get_threshold() == default_pace


def test_the_pace_is_restored_when_the_block_fails(default_pace: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError, match="feed"), fewer_young_collections():
        raise RuntimeError("the feed failed")
    assert gc.get_threshold() == default_pace


def test_an_ingest_run_in_this_process_leaves_the_pace_as_it_found_it(
    default_pace: tuple[int, int, int], tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}
    env["PARTNER_INGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert cli.run(env, "migrate").returncode == 0
    assert cli.run(env, "partners", "add", "acme", "--name", "Acme").returncode == 0
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"sku": "A-1", "name": "Mug", "price": 9.5, "currency": "EUR", "quantity": 3}\n')
    done = cli.run(env, "ingest", str(feed), "--partner", "acme", "--version", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert gc.get_threshold() == default_pace
