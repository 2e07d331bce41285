"""Outbound adapters: what the core drives (storage, audit, rate limits, crypto, fetching)."""
