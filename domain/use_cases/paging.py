"""Paging rules shared by the read use cases: a page size within bounds, said once."""

from __future__ import annotations

from typing import Any

from partner_ingest.domain.model.errors import InvalidError

__all__ = ["PageRequestError", "check_limit"]


class PageRequestError(InvalidError):
    """A page request out of bounds (a size below 1 or above the maximum, a bad cursor)."""

    code = "invalid_page"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    @property
    def details(self) -> dict[str, Any]:
        return {"field": self.field}


def check_limit(limit: int, maximum: int, *, field: str = "limit") -> int:
    """`limit` itself when 1 <= limit <= maximum; PageRequestError naming `field` otherwise.

    Refused rather than clamped: a client asking for 10,000 rows and silently getting
    500 would page wrongly without knowing it.
    """
    if not 1 <= limit <= maximum:
        raise PageRequestError(f"{field} must be between 1 and {maximum}, got {limit}", field=field)
    return limit
