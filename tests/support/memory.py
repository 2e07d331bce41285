"""The in-memory application the `memory_app` fixture hands out, as one type for annotations."""

from __future__ import annotations

from typing import TypeAlias

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore

__all__ = ["MemoryApp"]

MemoryApp: TypeAlias = tuple[Application, InMemoryStore, FakeClock]
"""What `tests/conftest.py::memory_app` returns: the wired app, its store and its fake clock."""
