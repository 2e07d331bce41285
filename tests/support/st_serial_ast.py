"""schemathesis's command line, with `ast.parse` taken by one thread at a time.

CPython 3.11 (3.11.7 on the CI machine) keeps the AST converter's recursion depth in state
that every thread shares, so two threads parsing at once can fail with "SystemError: AST
constructor recursion depth mismatch". hypothesis parses a lambda's source to describe a
strategy, and the API fuzz runs schemathesis with two worker threads, which both describe
their strategies: under load the run failed that way in its coverage phase. One lock around
`ast.parse` keeps both workers (what the run's time needs) and takes the race away; and
hypothesis's Unicode table is built before they start, so they do not both build it.

    python -P tests/support/st_serial_ast.py <st's arguments>   # -P: tests/support holds an http.py
"""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

_parsing = threading.Lock()
_parse = ast.parse


def _serial_parse(*args: Any, **kwargs: Any) -> Any:
    with _parsing:
        return _parse(*args, **kwargs)


def _tables_built() -> None:
    """hypothesis's table of the characters UTF-8 encodes (schemathesis's default codec), built here.

    It is cached once built, but both workers ask for it at their first string, and on a cold
    storage directory both built it at once, a scan of every code point each. Built (or read
    from the storage directory) before the workers start, it is built once.
    """
    from hypothesis import strategies as st

    st.characters(codec="utf-8").validate()


if __name__ == "__main__":
    ast.parse = _serial_parse
    _tables_built()
    from schemathesis.cli import schemathesis

    sys.argv[0] = "st"
    sys.exit(schemathesis())
