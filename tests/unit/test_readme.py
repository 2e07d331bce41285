"""The README's embedding snippet runs exactly as written, in at most 15 lines."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- readme-snippet: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


def test_embedding_snippet_ingests_a_feed_in_at_most_15_lines() -> None:
    code = _snippet("embed")
    assert len(code.strip().splitlines()) <= 15
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().startswith(
        "accepted IngestCounts(received=1, created=1, updated=0, unchanged=0, rejected=0, deleted=0, retired=0)"
    )
