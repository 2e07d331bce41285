"""The `partner-ingest` command line: one module per command group, one place for errors."""

from .main import main, run

__all__ = ["main", "run"]
