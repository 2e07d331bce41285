"""S3 end to end: every admin operation refuses the anonymous (401) and partners (403), audited each time.

The admin operations are read from the served /openapi.json (every operation
whose security names the admin key), so a route added later is covered
without touching this test; test_openapi_walk.py holds the document to the
routes the app really serves, so a route missing from it cannot escape.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest
from support.http import new_address
from support.service import Service, forge_key, json_of, key_id_of

METHODS = ("get", "put", "post", "delete", "patch")


def _operations(document: dict[str, Any], scheme: str) -> list[tuple[str, str]]:
    """(method, concrete path) of every operation secured by `scheme`, path parameters filled in."""
    found = []
    for template, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or not any(scheme in option for option in operation["security"]):
                continue
            path = re.sub(r"\{[^}]+\}", "no-such-thing", template)
            found.append((method, path))
    return found


@pytest.fixture
def admin_operations(service: Service) -> list[tuple[str, str]]:
    found = _operations(json_of(service.client().get("/openapi.json")), "adminKey")
    paths = {path for _, path in found}
    # What S3 names must be among them (jobs and schedules join as they are built).
    assert {"/admin/partners", "/admin/keys", "/admin/audit"} <= paths
    return found


def test_no_credentials_answer_401_and_are_audited(
    service: Service, admin_operations: list[tuple[str, str]]
) -> None:
    for method, path in admin_operations:
        address = new_address()
        answer = service.client(address).request(method.upper(), path, json={})
        assert answer.status_code == 401, (method, path, answer.text)
        body = json_of(answer)
        assert body["error"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        entries = service.audit("client = ?", [address])
        assert [(e["action"], e["outcome"]) for e in entries] == [("auth.failed", "denied")], (method, path)
        assert entries[0]["details"] == {"reason": "missing", "length": 0, "needs": "admin"}


@pytest.mark.parametrize("kind", ["malformed", "forged", "revoked"])
def test_invalid_credentials_answer_401_and_are_audited(
    service: Service, admin_operations: list[tuple[str, str]], kind: str
) -> None:
    admin = service.admin_key()
    presented = {"malformed": "admin", "forged": forge_key("pcia_")}.get(kind)
    if presented is None:
        presented = service.admin_key()
        revoked = service.client(**{"X-API-Key": admin}).post(f"/admin/keys/{key_id_of(presented)}/revoke")
        assert revoked.status_code == 200
    for method, path in admin_operations:
        address = new_address()
        answer = service.client(address, Authorization=f"Bearer {presented}").request(
            method.upper(), path, json={}
        )
        assert answer.status_code == 401, (method, path, answer.text)
        entries = service.audit("client = ?", [address])
        assert [e["action"] for e in entries] == ["auth.failed"], (method, path)
        assert entries[0]["details"]["needs"] == "admin"


def test_a_partner_key_answers_403_and_is_audited(
    service: Service, admin_operations: list[tuple[str, str]]
) -> None:
    partner_id, key = service.partner(service.admin_key())
    for method, path in admin_operations:
        address = new_address()
        answer = service.client(address, **{"X-API-Key": key}).request(method.upper(), path, json={})
        assert answer.status_code == 403, (method, path, answer.text)
        assert json_of(answer)["error"] == "forbidden"
        assert answer.headers["RateLimit-Policy"] == '"key";q=60;w=60'  # its quota was spent
        entries = service.audit("client = ?", [address])
        assert len(entries) == 1, (method, path)
        entry = entries[0]
        assert (entry["action"], entry["outcome"], entry["actor"], entry["partner_id"]) == (
            "admin.denied",
            "denied",
            partner_id,
            partner_id,
        )
        assert entry["details"] == {
            "key_id": key_id_of(key),
            "key_prefix": "pcik_",
            "reason": "not_admin",
            "needs": "admin",
        }
    # A partner that rewrites its prefix to the admin one is not an admin either (ADR 0006).
    rewritten = forge_key("pcia_", key_id_of(key), key[19:62])
    address = new_address()
    answer = service.client(address, **{"X-API-Key": rewritten}).get("/admin/partners")
    assert answer.status_code == 401
    assert service.audit("client = ?", [address])[0]["details"]["reason"] == "wrong_role_prefix"


def test_an_admin_key_works_as_a_header_or_a_bearer_token(
    service: Service, admin_operations: list[tuple[str, str]]
) -> None:
    admin = service.admin_key()
    assert service.client(**{"X-API-Key": admin}).get("/admin/partners").status_code == 200
    assert service.client(Authorization=f"Bearer {admin}").get("/admin/audit").status_code == 200
    assert service.audit("action IN ('auth.failed', 'admin.denied')") == []


def test_an_admin_key_is_no_partner(service: Service) -> None:
    admin = service.admin_key()
    answer = service.client(**{"X-API-Key": admin}).get("/partner/products")
    assert answer.status_code == 403
    assert service.audit("action = 'admin.denied'")[0]["details"]["reason"] == "not_partner"


def test_a_partner_reading_another_partners_import_gets_404(service: Service) -> None:
    admin = service.admin_key()
    _, key_a = service.partner(admin)
    _, key_b = service.partner(admin)
    a, b = service.client(**{"X-API-Key": key_a}), service.client(**{"X-API-Key": key_b})
    feed = service.client().get("/partner/contract/example", params={"format": "json", "version": 1}).content
    report = json_of(a.post("/partner/ingest", content=feed, headers={"Content-Type": "application/json"}))
    feed_id = report["feed_id"]
    assert a.get(f"/partner/imports/{feed_id}").status_code == 200

    theirs = b.get(f"/partner/imports/{feed_id}")
    unknown = b.get("/partner/imports/feed_00000000000000000000000000000000")
    assert theirs.status_code == unknown.status_code == 404
    assert json_of(theirs)["error"] == json_of(unknown)["error"] == "not_found"
    assert json_of(b.get("/partner/imports"))["imports"] == []
    # Products too: B cannot read A's, and the answer is the one for a product that does not exist.
    assert b.get("/partner/products/SKU-1001").status_code == 404
    assert json_of(b.get("/partner/products"))["products"] == []
    assert a.get("/partner/products/SKU-1001").status_code == 200


def test_a_deactivated_partners_key_is_refused_like_an_unknown_one(service: Service) -> None:
    admin = service.client(**{"X-API-Key": service.admin_key()})
    partner_id, key = service.partner(admin.headers["X-API-Key"])
    address = new_address()
    partner = service.client(address, **{"X-API-Key": key})
    assert partner.get("/partner/products").status_code == 200
    assert admin.patch(f"/admin/partners/{partner_id}", json={"active": False}).status_code == 200
    _refused_like_an_unknown_key(service, partner, address, reason="partner_inactive")
    assert admin.patch(f"/admin/partners/{partner_id}", json={"active": True}).status_code == 200
    assert partner.get("/partner/products").status_code == 200


def test_a_key_revoked_right_after_it_was_used_is_refused_on_its_next_request(service: Service) -> None:
    """The key was verified a moment before (ADR 0045): a revocation through this instance is
    refused at once, not after the bound another instance's would take."""
    admin = service.client(**{"X-API-Key": service.admin_key()})
    _, key = service.partner(admin.headers["X-API-Key"])
    address = new_address()
    partner = service.client(address, **{"X-API-Key": key})
    assert partner.get("/partner/products").status_code == 200
    assert partner.get("/partner/products").status_code == 200  # from the verified key
    assert admin.post(f"/admin/keys/{key_id_of(key)}/revoke").status_code == 200
    _refused_like_an_unknown_key(service, partner, address, reason="revoked")


def test_the_last_admin_key_in_service_is_not_revoked_409_and_audited(service: Service) -> None:
    admin = service.admin_key()
    client = service.client(**{"X-API-Key": admin})
    answer = client.post(f"/admin/keys/{key_id_of(admin)}/revoke")
    assert answer.status_code == 409, answer.text
    body = json_of(answer)
    assert body["error"] == "last_admin_key"
    assert "create another admin key first" in body["details"]["message"]
    assert client.get("/admin/keys").status_code == 200  # still an admin
    [entry] = service.audit("action = 'key.revoked'")
    assert (entry["outcome"], entry["actor"]) == ("denied", f"admin:{key_id_of(admin)}")
    assert entry["details"]["reason"] == "last_admin_key"

    # Rotated: the replacement is the one in service, so it is the one that cannot go.
    rotated = client.post(f"/admin/keys/{key_id_of(admin)}/rotate", json={"overlap_seconds": 3600})
    assert rotated.status_code == 201, rotated.text
    replacement = json_of(rotated)["id"]
    assert client.post(f"/admin/keys/{replacement}/revoke").json()["error"] == "last_admin_key"
    assert client.post(f"/admin/keys/{key_id_of(admin)}/revoke").status_code == 200  # the retiring one


def _refused_like_an_unknown_key(
    service: Service, partner: httpx2.Client, address: str, *, reason: str
) -> None:
    """The partner's next request is refused as a forged key is, and audited with its own reason."""
    refused = partner.get("/partner/products")
    unknown = service.client(address).get("/partner/products", headers={"X-API-Key": forge_key()})
    assert refused.status_code == unknown.status_code == 401
    assert json_of(refused)["details"]["message"] == json_of(unknown)["details"]["message"]
    reasons = [
        e["details"]["reason"] for e in service.audit("client = ? AND action = 'auth.failed'", [address])
    ]
    assert reasons == [reason, "unknown_key"]
