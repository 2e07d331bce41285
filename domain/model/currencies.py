"""ISO 4217 currencies and their minor units, read from the bundled iso4217.csv.

The table ships as data next to this module so that a new currency (or a
changed minor unit) is a one-line edit that needs no code review of logic.
"""

from __future__ import annotations

import csv
import functools
import pkgutil
from decimal import Decimal
from types import MappingProxyType
from typing import Final

__all__ = ["MINOR_UNITS", "minor_unit", "quantum"]


@functools.cache
def _load() -> MappingProxyType[str, int]:
    # Reading our own package data is the one file access the domain makes;
    # it happens once, at import, and never touches user data. Through the loader, which reads
    # a wheel's files, a zip's or an editable install's alike: importlib.resources would import
    # zipfile, tempfile and shutil into every process for this one file (ADR 0042).
    data = pkgutil.get_data(__package__, "iso4217.csv")
    if data is None:  # pragma: no cover - a loader that cannot read data files
        raise FileNotFoundError("iso4217.csv")
    text = data.decode("utf-8")
    rows = csv.DictReader(text.splitlines())
    return MappingProxyType({row["code"]: int(row["minor_unit"]) for row in rows})


MINOR_UNITS: Final[MappingProxyType[str, int]] = _load()
"""Currency code -> number of decimals allowed in an amount (JPY 0, EUR 2, KWD 3)."""

_QUANTA: Final = MappingProxyType({code: Decimal(1).scaleb(-m) for code, m in MINOR_UNITS.items()})


def minor_unit(currency: str) -> int:
    """Number of decimals an amount in `currency` may have; KeyError when unknown."""
    return MINOR_UNITS[currency]


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency` (Decimal('0.01') for EUR), for quantize()."""
    return _QUANTA[currency]
