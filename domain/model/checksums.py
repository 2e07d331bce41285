"""Check digits."""

from __future__ import annotations

__all__ = ["gtin_check_digit_ok"]


def gtin_check_digit_ok(gtin: str) -> bool:
    """GS1 check digit of a GTIN-8/12/13/14 (ASCII digits only): weights 3,1,3,...
    from the right, the check digit excluded."""
    digits = gtin.encode("ascii")
    # Summing slices of the bytes is C work; 48 is the code of "0".
    odd = digits[-2::-2]
    even = digits[-3::-2]
    total = 3 * (sum(odd) - 48 * len(odd)) + sum(even) - 48 * len(even)
    return (10 - total % 10) % 10 == digits[-1] - 48
