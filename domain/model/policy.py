"""How strictly a partner's feeds are judged, and how large they may be."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["FeedLimits", "Mode", "PolicyOverrides", "ValidationPolicy"]


class Mode(enum.StrEnum):
    """Strict: exact types, unknown fields are errors. Lenient: safe coercions
    ("12.50" -> Decimal, " EUR " -> "EUR"), unknown fields kept in `extra`."""

    STRICT = "strict"
    LENIENT = "lenient"


def _as_mode(value: Mode) -> Mode:
    # Typed as Mode, converted anyway: a policy built from plain text ("lenient", from
    # settings or an untyped caller) must never be read as strict by an `is` test.
    return Mode(value)


def _ratio(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


@attrs.frozen
class ValidationPolicy:
    """Per partner, overridable per request where the partner allows it (ADR 0005)."""

    mode: Mode = attrs.field(default=Mode.STRICT, converter=_as_mode)
    atomic: bool = False
    """True: one invalid item rejects the whole feed. False: valid items land."""
    max_error_ratio: float = attrs.field(default=1.0, validator=_ratio)
    """Reject the whole feed when more than this share of its items is invalid (1.0: never)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (stored with the partner)."""
        return {
            "mode": str(self.mode),
            "atomic": self.atomic,
            "max_error_ratio": self.max_error_ratio,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ValidationPolicy:
        """Inverse of `to_json`; missing keys take their defaults."""
        return cls(
            mode=Mode(data.get("mode", Mode.STRICT)),
            atomic=bool(data.get("atomic", False)),
            max_error_ratio=float(data.get("max_error_ratio", 1.0)),
        )


@attrs.frozen
class PolicyOverrides:
    """What one feed asks to change of its partner's policy (request headers, CLI options);
    None keeps the partner's. Whether the partner may ask is `Partner.policy_for`'s to say."""

    mode: Mode | None = attrs.field(default=None, converter=attrs.converters.optional(_as_mode))
    atomic: bool | None = None

    @classmethod
    def of(cls, policy: ValidationPolicy | None) -> PolicyOverrides:
        """The overrides that turn any partner's policy into `policy` where a request may
        (mode and atomic); none for None."""
        return cls() if policy is None else cls(mode=policy.mode, atomic=policy.atomic)

    def applied_to(self, policy: ValidationPolicy) -> ValidationPolicy:
        """`policy` with these overrides."""
        if self.mode is None and self.atomic is None:
            return policy  # nearly every feed: nothing to change, nothing to copy
        return attrs.evolve(
            policy,
            mode=policy.mode if self.mode is None else self.mode,
            atomic=policy.atomic if self.atomic is None else self.atomic,
        )


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class FeedLimits:
    """Caps every parser enforces, each turned into a feed-level error when exceeded.

    They exist because the standard parsers have none that are safe: json
    raises RecursionError on deep nesting, defusedxml accepts any depth and
    element count, csv accepts fields of any size.
    """

    max_items: int = attrs.field(default=5_000_000, validator=_positive)
    max_item_bytes: int = attrs.field(default=256 * 1024, validator=_positive)
    max_depth: int = attrs.field(default=16, validator=_positive)
    """Nesting of objects/arrays (JSON) or elements (XML) below the item."""
    max_field_chars: int = attrs.field(default=64 * 1024, validator=_positive)
    max_number_chars: int = attrs.field(default=40, validator=_positive)

    def integer_too_long(self, value: int) -> bool:
        """Whether `value`, written out with its sign, is longer than `max_number_chars`: what
        the standard library's JSON decoder counts while parsing, and msgspec, which hands
        integers of any length over, is held to after it. str() is taken only near the cap
        (str() of an integer past 4300 digits raises)."""
        digits = value.bit_length() * 0.30103  # log10(2): the digits, give or take one
        cap = self.max_number_chars
        if digits > cap + 2:
            return True
        return digits > cap - 2 and len(str(value)) > cap
