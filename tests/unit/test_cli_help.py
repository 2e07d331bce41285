"""The command line explains itself: every command and every option has help text,
`--version` names the release, and `example` and `validate` default to one contract version."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib import metadata

import pytest

from partner_ingest.adapters_in.cli import feeds
from partner_ingest.adapters_in.cli.main import main, parser
from partner_ingest.domain.model.rules import CONTRACTS


def _parsers(
    root: argparse.ArgumentParser, path: str = "partner-ingest"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, root
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, command in _parsers(parser()):
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {choice.dest for choice in action._choices_actions if choice.help}
                missing += [f"{path} {name}" for name in action.choices if name not in helped]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "without help text: " + ", ".join(missing)


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"partner-ingest {metadata.version('partner-catalog-ingest')}"


def test_example_and_validate_default_to_the_same_contract_version() -> None:
    args = parser().parse_args(["example"])
    validate = parser().parse_args(["validate", "feed.json"])
    assert feeds.version_of(args) == feeds.version_of(validate) == max(CONTRACTS)
