"""Why a schedule cannot run: the errors of schedules and their cron expressions.

Reading cron expressions is the `CronRules` port's work (`ports/cron.py`; cronsim behind
it, ADR 0022): the domain only names what goes wrong, so that the HTTP and CLI adapters
answer every implementation's refusals alike.
"""

from __future__ import annotations

from .errors import InvalidError

__all__ = ["CronExpressionError", "InvalidScheduleError"]


class InvalidScheduleError(InvalidError, ValueError):
    """A schedule that cannot say when it runs next (bad cron, bad interval, or neither)."""

    code = "invalid_schedule"


class CronExpressionError(InvalidScheduleError):
    """A cron expression that cannot be parsed, or that names no moment at all."""

    code = "invalid_cron"

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid cron expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason
