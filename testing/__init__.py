"""Kits that hold an embedder's or plugin author's own parts to the tests ours pass (ADR 0031).

- `partner_ingest.testing.storage`: `StorageContract`, the storage contract suite, over a
  `store_under_test` fixture you provide (any `StoreUnderTest`: units of work and an audit log).
- `partner_ingest.testing.rate_limiter`: `RateLimiterContract`, the rate-limiter contract
  suite, over a `rate_limiter_under_test` fixture yielding a `LimiterUnderTest`.
- `partner_ingest.testing.formats`: the format conformance kit (`check_feed_format` and its
  helpers, plain functions with no dependency on pytest) and `FeedFormatContract` in
  `partner_ingest.testing.format_suite`, over a `feed_format_under_test` fixture.
- `partner_ingest.testing.plugin`: the pytest plugin (entry point `pytest11`) that rewrites
  the suites' asserts and explains a missing fixture.

A suite is enabled by subclassing it in a test module; this repository runs the same
classes over its memory, SQLite and PostgreSQL stores and its two limiters. Only the
plugin and the suites import pytest, so importing this package or the format kit does not.
"""
