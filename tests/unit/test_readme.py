"""The README's embedding snippet runs exactly as written, in at most 15 lines."""

from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import pytest

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


def test_building_the_service_around_a_store_of_ones_own_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default settings keep their secrets file here
    code = _snippet("build")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == "accepted 1\n"
    assert (tmp_path / "partner-ingest.secrets.json").exists(), "secrets kept, not made up"
    assert not (tmp_path / "partner-ingest.db").exists(), "the store handed in replaced the database"


def test_the_webhook_receiver_snippet_verifies_what_the_platform_signs() -> None:
    from partner_ingest.domain.model.webhooks import new_secret, signature_header

    namespace: dict[str, object] = {}
    exec(compile(_snippet("webhook-verify"), "README.md", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    old, new = new_secret(b"o" * 32), new_secret(b"n" * 32)
    now = int(time.time())
    body = b'{"type":"webhook.test"}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    headers["webhook-signature"] = signature_header([new, old], "msg_1", now, body)
    assert verify(new, headers, body) and verify(old, headers, body)
    assert not verify(new_secret(b"x" * 32), headers, body)
    assert not verify(new, headers, body + b" ")
    assert not verify(new, {**headers, "webhook-timestamp": str(now - 3600)}, body)
