"""Every command's --help, word for word: the parser registers each command without importing what the
command runs (ADR 0042), and this keeps that from changing what a user reads.

cli_help.txt is the help of every command and subcommand at 100 columns, parents first. A change to
an option's help is made there too: regenerate it with `regenerate()` below and read the diff.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from partner_ingest.adapters_in.cli._choices import MAX_DELIVERY_PAGE, VALIDATION_MODES
from partner_ingest.adapters_in.cli.main import parser

EXPECTED = Path(__file__).with_name("cli_help.txt")


def _parsers(root: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield root
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def rendered() -> str:
    """Each parser's help as `partner-ingest ... --help` prints it, one after another."""
    return "".join(p.format_help() + "\n" for p in _parsers(parser()))


def regenerate() -> None:  # pragma: no cover - run by hand when a help text changes on purpose
    EXPECTED.write_text(rendered())


def test_every_command_prints_the_help_it_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    got, expected = rendered(), EXPECTED.read_text()
    heads = [line for line in got.splitlines() if line.startswith("usage: ")]
    assert len(heads) == 33  # the root, each command, each group's subcommands
    assert got == expected


def test_the_options_choices_are_the_domains() -> None:
    """The choices written out in the CLI (so its parser imports no domain model) are the domain's."""
    from partner_ingest.domain.model import webhooks
    from partner_ingest.domain.model.policy import Mode

    assert tuple(str(m) for m in Mode) == VALIDATION_MODES
    assert MAX_DELIVERY_PAGE == webhooks.MAX_DELIVERY_PAGE
