"""The `partner-ingest` command line."""
