"""A process that only ingests does not import the HTTP fetcher or cryptography (ADR 0039):
they are imported on the first pull and the first credential, and still work then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.cli.main import parser
from partner_ingest.adapters_in.settings import Settings

app = bootstrap.build(Settings(database_url="sqlite:///{db}"))
print(sorted(m for m in ("cryptography", "partner_ingest.adapters_out.fetcher.http_fetcher")
             if m in sys.modules))
token = app.vault.encrypt("s3cret")
print(app.vault.decrypt(token), "cryptography" in sys.modules)
app.close()
"""


def test_start_up_defers_the_http_fetcher_and_cryptography_until_first_used(tmp_path: Path) -> None:
    code = PROBE.format(db=tmp_path / "lean.db")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out == ["[]", "s3cret True"]
