"""Running a test's own reference code without the coverage tracer.

Under `make test` coverage's tracer (the C tracer, the only one Python 3.11 has) is called on
every line of every frame, measured or not: a loop in a test's own code runs about 3.5 times
slower under it although nothing of it is recorded (only `partner_ingest` is measured). A
differential test spends half its time in its reference (an old parser kept verbatim), so
`untraced(call)` runs that with no trace function and puts the tracer back before it returns.
The package code the reference calls is the package code the code under test calls, so
the coverage it would have recorded is recorded anyway.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from hypothesis import strategies as st

__all__ = ["drawn_untraced", "untraced"]

T = TypeVar("T")


def untraced(call: Callable[[], T]) -> T:
    """`call()` with this thread's trace function removed for its duration.

    A plain function, not a context manager: the tracer is removed and restored in this one
    frame, so it sees this frame's call and return and no frame it did not see begin.
    """
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        return call()
    finally:
        sys.settrace(tracer)


@st.composite
def drawn_untraced(draw: st.DrawFn, strategy: st.SearchStrategy[T]) -> T:
    """`strategy`'s value, drawn with no trace function: the same values, the same shrinking.

    Generation is hypothesis' code and the tests' own, none of it measured, yet the tracer is
    called on every line of it. Package code a strategy calls (`Product`, `product_item`)
    is what the test then parses, renders or validates, traced.
    """
    return untraced(lambda: draw(strategy))
