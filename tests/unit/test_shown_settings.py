"""Settings as they may be printed: a database or Redis URL never shows its password.

`serve` prints the database it serves on and `migrate` the one it migrated; the
deployment guide's URL carries a password (`postgresql://ingest:...@db...`), and
stdout ends up in the same logs as everything else.
"""

from __future__ import annotations

from pathlib import Path

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


def test_settings_show_the_value_in_effect_and_where_it_came_from(tmp_path: Path) -> None:
    from partner_ingest.adapters_in.settings import shown_settings

    database = tmp_path / "ingest.db"
    env = {
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{database}",
        "PARTNER_INGEST_PORT": "9001",
        "PARTNER_INGEST_REDIS_URL": "redis://:hunter3@r:6379/0",
    }
    settings = Settings.from_env(env)
    secrets = database.with_suffix(".secrets.json")
    shown = {s.variable: s for s in shown_settings(settings, env, secrets_file=secrets)}
    assert (shown["PARTNER_INGEST_PORT"].value, shown["PARTNER_INGEST_PORT"].source) == ("9001", "env")
    assert (shown["PARTNER_INGEST_HOST"].value, shown["PARTNER_INGEST_HOST"].source) == (
        "127.0.0.1",
        "default",
    )
    assert shown["PARTNER_INGEST_REDIS_URL"].value == "redis://:****@r:6379/0"
    assert shown["PARTNER_INGEST_KEY_HASH_SECRET"].source == "generated"
    secrets.write_text("{}")
    again = {s.variable: s for s in shown_settings(settings, env, secrets_file=secrets)}
    assert (again["PARTNER_INGEST_VAULT_KEYS"].value, again["PARTNER_INGEST_VAULT_KEYS"].source) == (
        "(secret)",
        "file",
    )
    assert all(s.description for s in shown.values()), [v for v, s in shown.items() if not s.description]
    assert "hunter3" not in repr(shown)


def test_settings_are_checked_as_serve_checks_them(tmp_path: Path) -> None:
    from partner_ingest.adapters_in.bootstrap import check_settings
    from partner_ingest.adapters_in.settings import SettingsError

    with pytest.raises(SettingsError, match="PARTNER_INGEST_VAULT_KEYS"):
        check_settings(Settings(database_url=f"sqlite:///{tmp_path}/x.db", vault_keys="not-a-fernet-key"))
    with pytest.raises(SettingsError, match="PARTNER_INGEST_DATABASE_URL"):
        check_settings(Settings(database_url="sqlite:////no/such/directory/x.db"))
    check_settings(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
