"""The three foreign formats end to end: each sample ingested by `partner-ingest ingest` (the
command run in this process, support/cli.py), and over HTTP by a real server on loopback, into
SQLite and into PostgreSQL.

A Shopify export carries no currency: the partner's currency setting (set with the CLI or
the admin API) supplies it, and until it is set the feed is refused with `missing_setting`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support import cli
from support.http import LOOPBACK_PROXY, admin_key, new_partner, running_server, tls
from support.postgres import postgres_database
from support.service import json_of
from support.workers import KEY_HASH_SECRET, VAULT_KEY

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model import Product
from partner_ingest.plugins import load_formats

ATOM = Path(__file__).parent.parent / "samples" / "gmc-atom.xml"
SAMPLES: dict[str, tuple[str, int]] = {
    "gmc-xml": ("application/rss+xml", 4),
    "gmc-tsv": ("", 4),
    "shopify-csv": ("", 5),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of either kind, as a PARTNER_INGEST_DATABASE_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'foreign.db'}"
        return
    with postgres_database() as url:
        yield url


def sample(name: str) -> bytes:
    fmt: Any = load_formats().get(name, 2)
    document: bytes = fmt.sample()
    return document


@contextmanager
def stored(database_url: str) -> Iterator[dict[str, Product]]:
    """Every product of partner `shop`, read back through the service's own wiring."""
    app = bootstrap.build(
        Settings(database_url=database_url, key_hash_secret=KEY_HASH_SECRET, vault_keys=VAULT_KEY)
    )
    try:
        with app.uow(read_only=True) as uow:
            yield {p.sku: p for p in uow.products.page("shop", limit=100)}
    finally:
        app.close()


def test_the_cli_ingests_each_sample(tmp_path: Path, database_url: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}
    env["PARTNER_INGEST_DATABASE_URL"] = database_url
    env["PARTNER_INGEST_KEY_HASH_SECRET"] = KEY_HASH_SECRET
    env["PARTNER_INGEST_VAULT_KEYS"] = VAULT_KEY
    added = cli.run(
        env, "partners", "add", "shop", "--name", "Shop", "--default-version", "2", "--mode", "lenient"
    )
    assert added.returncode == 0, added.stderr
    files = {}
    for name in SAMPLES:
        files[name] = tmp_path / f"sample-{name}"
        files[name].write_bytes(sample(name))

    # No currency yet: the Shopify export is refused as a whole, with the reason.
    refused = cli.run(
        env, "ingest", str(files["shopify-csv"]), "--partner", "shop", "--format", "shopify-csv", "--json"
    )
    assert refused.returncode == 1, refused.stderr
    report = json.loads(refused.stdout)
    assert (report["status"], report["feed_error"]["code"]) == ("rejected", "missing_setting")
    assert "Traceback" not in refused.stderr
    updated = cli.run(env, "partners", "update", "shop", "--currency", "USD", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["currency"] == "USD"
    bad = cli.run(env, "partners", "update", "shop", "--currency", "dollars")
    assert bad.returncode != 0 and len(bad.stderr.splitlines()) == 1 and "currency" in bad.stderr

    for name, (_, count) in SAMPLES.items():
        done = cli.run(env, "ingest", str(files[name]), "--partner", "shop", "--format", name, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert (report["format"], report["version"], report["status"]) == (name, 2, "accepted")
        assert report["counts"]["created"] == count
    with stored(database_url) as products:
        assert len(products) == 13
        assert (products["TV-55-OLED"].price, products["TV-55-OLED"].currency) == (Decimal("1299.00"), "USD")
        assert (products["KETTLE-1L"].price, products["KETTLE-1L"].currency) == (Decimal("1049.00"), "SEK")
        hoodie = products["HOOD-MOSS-M"]
        assert (hoodie.price, hoodie.sale_price, hoodie.currency) == (
            Decimal("79.00"),
            Decimal("59.00"),
            "USD",
        )

    # `validate` checks a Shopify export with the currency the partner would have.
    checked = cli.run(env, "validate", str(files["shopify-csv"]), "--format", "shopify-csv", "--version", "2",
                   "--mode", "lenient", "--currency", "EUR", "--json")  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["counts"]["created"] == 5


def test_a_real_server_ingests_each_sample_served_as_the_example(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        trusted_proxies=LOOPBACK_PROXY,
        key_hash_secret=KEY_HASH_SECRET,
        vault_keys=VAULT_KEY,
    )
    app = bootstrap.build(settings)
    try:
        with running_server(app) as url, httpx2.Client(verify=tls(), base_url=url, timeout=60) as client:
            admin = admin_key(app)
            partner_id, key = new_partner(
                client, admin, id="shop", default_version=2, policy={"mode": "lenient"}
            )
            partner = {"X-API-Key": key}
            contract = json_of(client.get("/partner/contract"))
            entries = {(f["format"], f["version"]): f for f in contract["formats"]}
            for name, (media_type, count) in SAMPLES.items():
                entry = entries[(name, 2)]
                assert entry["mapping"]["attributes"], name
                example = client.get("/partner/contract/example", params={"format": name, "version": 2})
                assert example.status_code == 200
                assert example.content == sample(name)
                content_type = example.headers["content-type"].split(";")[0]
                assert content_type == (media_type or entry["media_types"][0])
                answer = client.post(
                    "/partner/ingest",
                    content=example.content,
                    headers={**partner, "Content-Type": content_type},
                )
                if name == "shopify-csv":
                    # No currency yet: a clear feed error, nothing stored; then the admin sets it.
                    assert answer.status_code == 422, answer.text
                    assert json_of(answer)["feed_error"]["code"] == "missing_setting"
                    changed = client.patch(
                        f"/admin/partners/{partner_id}",
                        json={"currency": "USD"},
                        headers={"X-API-Key": admin},
                    )
                    assert changed.status_code == 200 and json_of(changed)["currency"] == "USD", changed.text
                    answer = client.post(
                        "/partner/ingest",
                        content=example.content,
                        headers={**partner, "Content-Type": content_type},
                    )
                assert answer.status_code == 200, answer.text
                report = json_of(answer)
                assert (report["format"], report["status"], report["counts"]["created"]) == (
                    name,
                    "accepted",
                    count,
                )

            refused = client.patch(
                f"/admin/partners/{partner_id}", json={"currency": "usd"}, headers={"X-API-Key": admin}
            )
            assert refused.status_code == 422, refused.text
            assert "currency" in json_of(refused)["details"]["problems"]

            # An Atom feed selects the same format by its own media type.
            atom = client.post(
                "/partner/ingest",
                content=ATOM.read_bytes(),
                headers={**partner, "Content-Type": "application/atom+xml"},
            )
            assert (atom.status_code, json_of(atom)["counts"]["unchanged"]) == (200, 2), atom.text

            hoodie = json_of(client.get("/partner/products/HOOD-MOSS-M", headers=partner))
            assert (hoodie["price"], hoodie["sale_price"], hoodie["currency"]) == ("79.00", "59.00", "USD")
            assert hoodie["name"] == "Trail hoodie - Moss / M"
            tv = json_of(client.get("/partner/products/TV-55-OLED", headers=partner))
            assert (tv["sale_starts_at"], tv["extra"]["mpn"]) == (
                "2026-11-27T16:00:00+00:00",
                "LUM-OLED55-2026",
            )
    finally:
        app.close()
