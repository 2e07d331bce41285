"""What a storage contract test needs from a store, whichever store it is (the kit's protocol)."""

from __future__ import annotations

from partner_ingest.testing.storage import StoreUnderTest

__all__ = ["StoreUnderTest"]
