"""The command line explains itself: every command and every option has help text,
`--version` names the release, and `example` and `validate` default to one contract version.

Every command's help stays word for word what it was: the parser registers each command without
importing what the command runs (ADR 0042), and cli_help.txt (beside this file: the help of every
command and subcommand at 100 columns, parents first) keeps that from changing what a user reads.
A change made to an option's help on purpose is made there too: regenerate it with `regenerate()`
below and read the diff."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from partner_ingest.adapters_in.cli import feeds
from partner_ingest.adapters_in.cli._choices import MAX_DELIVERY_PAGE, VALIDATION_MODES
from partner_ingest.adapters_in.cli.main import COMMANDS, main, parser
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


EXPECTED_HELP = Path(__file__).with_name("cli_help.txt")


def rendered_help() -> str:
    """Each parser's help as `partner-ingest ... --help` prints it, one after another."""
    return "".join(command.format_help() + "\n" for _, command in _parsers(parser()))


def regenerate() -> None:  # pragma: no cover - run by hand when a help text changes on purpose
    EXPECTED_HELP.write_text(rendered_help())


def test_every_command_prints_the_help_it_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    got = rendered_help()
    assert sum(line.startswith("usage: ") for line in got.splitlines()) == 33  # root, commands, subcommands
    assert got == EXPECTED_HELP.read_text()


def test_the_options_choices_are_the_domains() -> None:
    """The choices written out in the CLI (so its parser imports no domain model) are the domain's."""
    from partner_ingest.domain.model import webhooks
    from partner_ingest.domain.model.policy import Mode

    assert tuple(str(m) for m in Mode) == VALIDATION_MODES
    assert webhooks.MAX_DELIVERY_PAGE == MAX_DELIVERY_PAGE


def _commands(root: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (subparsers,) = (a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def test_a_command_line_starting_with_a_command_builds_its_part_of_the_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each command's help, and the root's usage, are the whole parser's (usage errors read the
    same), with only the command's group built; the table names every command."""
    monkeypatch.setenv("COLUMNS", "100")
    whole = parser()
    assert sorted(_commands(whole)) == sorted(COMMANDS)
    for name, command in _commands(whole).items():
        part = parser([name, "--anything"])
        assert name in _commands(part)
        assert set(_commands(part)) < set(COMMANDS)  # its group's, no more
        assert part.format_usage() == whole.format_usage()
        built = [p.format_help() for _, p in _parsers(_commands(part)[name])]
        assert built == [p.format_help() for _, p in _parsers(command)]


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h", "ingest"], ["--version"], ["ingst"], ["f.json"]])
def test_a_command_line_not_starting_with_a_command_builds_the_whole(argv: list[str]) -> None:
    assert parser(argv).format_help() == parser().format_help()
