"""S4 end to end: an endpoint on the platform's own network is refused when an admin sets it
(422 saying why, over HTTP and in the CLI), not silently at the first pull; the operator's
allow-list admits what it admits at pull time."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from support import cli
from support.service import Service, json_of

SPELLINGS = [
    ("2130706433", "127.0.0.1 is loopback"),
    ("0x7f.1", "127.0.0.1 is loopback"),
    ("LOCALHOST.", "127.0.0.1 is loopback"),
    ("[::1]", "::1 is loopback"),
    ("[::ffff:10.0.0.1]", "(IPv4 10.0.0.1) is private"),
    ("169.254.169.254", "link-local"),
    ("metadata.google.internal", "169.254.169.254 is link-local"),
    ("[fd12:3456::1]", "unique-local"),
    ("[fe80::1%25eth0]", "link-local"),
]


@pytest.mark.parametrize(("host", "says"), SPELLINGS)
def test_a_non_public_endpoint_is_refused_422_when_a_partner_is_created_or_changed(
    service: Service, host: str, says: str
) -> None:
    admin = service.admin_key()
    client = service.client(**{"X-API-Key": admin})
    endpoint = f"http://{host}/feed.json"

    created = client.post("/admin/partners", json={"id": "globex", "name": "Globex", "endpoint": endpoint})
    assert created.status_code == 422, created.text
    body = json_of(created)
    assert body["error"] == "invalid_partner"
    why = body["details"]["problems"]["endpoint"]
    assert why.startswith("refused: ") and says in why, why
    assert client.get("/admin/partners/globex").status_code == 404

    assert client.post("/admin/partners", json={"id": "globex", "name": "Globex"}).status_code == 201
    changed = client.patch("/admin/partners/globex", json={"endpoint": endpoint})
    assert changed.status_code == 422, changed.text
    assert says in json_of(changed)["details"]["problems"]["endpoint"]
    assert json_of(client.get("/admin/partners/globex"))["endpoint"] is None
    assert service.audit("action = 'credentials.changed'") == []


def test_a_schedule_is_refused_422_while_its_partners_stored_endpoint_is(service: Service) -> None:
    admin = service.admin_key()
    client = service.client(**{"X-API-Key": admin})
    assert client.post("/admin/partners", json={"id": "acme", "name": "Acme"}).status_code == 201
    with service.app.uow() as uow:  # stored before endpoints were checked
        acme = uow.partners.get("acme")
        assert acme is not None
        uow.partners.update(attrs.evolve(acme, endpoint="http://10.0.0.5/catalog.json"))
        uow.commit()

    answer = client.post("/admin/partners/acme/schedules", json={"interval_seconds": 300})
    assert answer.status_code == 422, answer.text
    assert json_of(answer)["error"] == "invalid_schedule"
    assert "endpoint refused (10.0.0.5 is private" in json_of(answer)["details"]["message"]
    assert json_of(client.get("/admin/partners/acme/schedules"))["schedules"] == []


def test_the_operators_allow_list_admits_the_endpoint_it_admits_for_pulls(
    serve: Callable[..., Service],
) -> None:
    service = serve(fetch_allow_networks="127.0.0.0/8")
    client = service.client(**{"X-API-Key": service.admin_key()})
    endpoint = "http://2130706433:8081/feed.json"  # 127.0.0.1, allowed
    created = client.post("/admin/partners", json={"id": "lab", "name": "Lab", "endpoint": endpoint})
    assert created.status_code == 201, created.text
    assert client.post("/admin/partners/lab/schedules", json={"interval_seconds": 300}).status_code == 201
    refused = client.patch("/admin/partners/lab", json={"endpoint": "http://[::1]:8081/feed.json"})
    assert refused.status_code == 422  # ::1 is not in 127.0.0.0/8


def test_the_cli_refuses_a_non_public_endpoint_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LC_ALL": "C.UTF-8",
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }

    def run(*args: str) -> cli.Ran:
        return cli.run(env, *args)

    added = run("partners", "add", "acme", "--name", "Acme", "--endpoint", "http://017700000001/feed")
    updated_first = run("partners", "add", "acme", "--name", "Acme")
    updated = run("partners", "update", "acme", "--endpoint", "http://metadata.goog/computeMetadata/v1/")
    for refused, says in ((added, "127.0.0.1 is loopback"), (updated, "169.254.169.254 is link-local")):
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        [line] = refused.stderr.splitlines()
        assert line.startswith("partner-ingest: ") and "endpoint: refused: " in line and says in line, line
    assert updated_first.returncode == 0, updated_first.stderr
    assert "endpoint" not in run("partners", "show", "acme").stdout
