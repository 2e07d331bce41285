"""Cron expressions, as a port: the scheduler asks when a rule runs next; a library answers.

The domain stays pure (ADR 0022): the use cases never parse cron text themselves, and the
adapter behind this port (`adapters_out/cron.py`, on cronsim) decides which expressions are
valid and why the others are not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["CronRule", "CronRules"]


class CronRule(Protocol):
    """A valid cron expression (five fields, UTC)."""

    @property
    def expression(self) -> str:
        """The expression as given (surrounding spaces removed)."""

    def next_after(self, moment: datetime) -> datetime:
        """The first minute the rule names strictly after `moment` (aware in, aware UTC out);
        CronExpressionError when there is none within the years the implementation searches."""


class CronRules(Protocol):
    """Reads cron expressions."""

    def parse(self, expression: str) -> CronRule:
        """The rule of `expression`; CronExpressionError (domain/model/cron.py) saying what is
        wrong, for an admin to read, when it is not a valid five-field expression or names no
        moment at all."""
