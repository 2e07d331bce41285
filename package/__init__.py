"""partner-catalog-ingest: take product catalog feeds from partners (ARCHITECTURE in the README).

The code lives in `partner_ingest.domain`, `.ports`, `.adapters_in`, `.adapters_out`,
`.plugins` and `.testing`; this package only says which release is installed (ADR 0031).

`__version__` is read from the installed metadata when first asked for (PEP 562), not on
import: importlib.metadata brings email, zipfile and socket with it, and every process that
imports any part of the library would pay for them (ADR 0039, start-up).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__: str


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("partner-catalog-ingest")
    except PackageNotFoundError:  # pragma: no cover - imported from a checkout that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
