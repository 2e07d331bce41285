"""The `partner-ingest` command line: one module per command group, one place for errors."""

from .main import main

__all__ = ["main"]
