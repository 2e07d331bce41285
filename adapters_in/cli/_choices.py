"""The values the command line's options offer, written out rather than read from the domain.

`partner-ingest --help` and every subcommand's parser are built before a command runs, and
reading these from their domain modules would import attrs and the webhook model into every
command, `--help` included (ADR 0042). tests/unit/test_cli_choices.py keeps each one equal to
its domain original.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DELIVERY_PAGE", "VALIDATION_MODES"]

VALIDATION_MODES: Final = ("strict", "lenient")
"""`domain.model.policy.Mode`'s values, in its order."""
MAX_DELIVERY_PAGE: Final = 200
"""`domain.model.webhooks.MAX_DELIVERY_PAGE`."""
