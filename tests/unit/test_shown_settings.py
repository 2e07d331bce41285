"""Settings as they may be printed: a database or Redis URL never shows its password.

`serve` prints the database it serves on and `migrate` the one it migrated; the
deployment guide's URL carries a password (`postgresql://ingest:...@db...`), and
stdout ends up in the same logs as everything else.
"""

from __future__ import annotations

import pytest

from partner_ingest.adapters_in.settings import Settings, shown_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///partner-ingest.db", "sqlite:///partner-ingest.db"),
        ("sqlite:////var/lib/ingest.db", "sqlite:////var/lib/ingest.db"),
        (
            "postgresql://ingest:s3cr%40t@db.internal:5432/catalog?options=-csearch_path%3Dpartner_ingest",
            "postgresql://ingest:****@db.internal:5432/catalog?options=-csearch_path%3Dpartner_ingest",
        ),
        ("postgresql://ingest@db/catalog", "postgresql://ingest@db/catalog"),
        ("postgresql://u:p@ss@db/x", "postgresql://u:****@db/x"),
        ("postgresql://db/x?sslmode=require&password=abc", "postgresql://db/x?sslmode=require&password=****"),
        ("postgresql:///x?host=/run/pg&PASSWORD=abc", "postgresql:///x?host=/run/pg&PASSWORD=****"),
        ("redis://:pw@redis.internal:6379/0", "redis://:****@redis.internal:6379/0"),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
    ],
)
def test_a_shown_url_keeps_everything_but_the_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_repr_of_settings_shows_no_password() -> None:
    settings = Settings(
        database_url="postgresql://ingest:hunter2@db/catalog", redis_url="redis://:hunter3@r/0"
    )
    text = repr(settings)
    assert "hunter2" not in text and "hunter3" not in text
    assert "postgresql://ingest:****@db/catalog" in text
