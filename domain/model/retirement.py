"""The mass-delete guard: when a snapshot may retire what it leaves out, and when it is held (ADR 0036).

A snapshot is the partner's word that absent products are gone. A truncated
export, a filter left on in the partner's system or a feed of the wrong shop
says the same thing by mistake, so a snapshot that would retire more than a
share or a count of the partner's active products is held for an operator
instead of applied. One that would retire every active product (an empty
snapshot, say) is always held, whatever the settings allow.
"""

from __future__ import annotations

import attrs

__all__ = ["HeldFeed", "RetirementGuard"]


def _share(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


def _count(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


@attrs.frozen
class RetirementGuard:
    """How much a snapshot may retire before it is held."""

    max_share: float = attrs.field(default=0.2, validator=_share)
    """Share of the partner's active products (before the feed) a snapshot may retire."""
    max_count: int | None = attrs.field(default=None, validator=_count)
    """How many products a snapshot may retire; None: no limit beyond the share."""

    def holds(self, retiring: int, active: int) -> bool:
        """Whether a snapshot that would retire `retiring` of `active` products is held."""
        if retiring == 0:
            return False
        if retiring >= active:  # the whole catalog: never without an operator
            return True
        if self.max_count is not None and retiring > self.max_count:
            return True
        return retiring > self.max_share * active


@attrs.frozen
class HeldFeed:
    """A held snapshot as kept for its release: the body as received and the SKUs it would
    retire, fixed when it was held (a release retires exactly these)."""

    feed_id: str
    partner_id: str
    body: bytes = attrs.field(repr=False)
    retire: tuple[str, ...]
