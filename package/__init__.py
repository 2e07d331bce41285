"""partner-catalog-ingest: take product catalog feeds from partners (ARCHITECTURE in the README).

The code lives in `partner_ingest.domain`, `.ports`, `.adapters_in`, `.adapters_out`,
`.plugins` and `.testing`; this package only says which release is installed (ADR 0031).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("partner-catalog-ingest")
except PackageNotFoundError:  # pragma: no cover - imported from a checkout that was never installed
    __version__ = "0+unknown"
