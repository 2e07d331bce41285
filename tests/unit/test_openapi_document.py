"""/openapi.json says exactly what the server does: its bounds, its query rules, its answers.

Each test reads the document the app serves and holds the app to it through
Starlette's TestClient on the in-memory store: every declared bound is accepted
at its edge and refused one past it, an empty or unknown query parameter is a
400 on every operation, and the answers (the raw example documents, a partner
with credentials) have the media type and schema the document gives them. The
API fuzzer (tests/e2e/test_api_fuzz.py) then searches the rest of the space.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from support.http import TestClient

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.plugins import load_formats

INT64_MAX = 2**63 - 1
METHODS = ("get", "put", "post", "delete", "patch")
# The installed formats, found once for the module: a registry is read-only once loaded, and
# finding it reads every installed distribution's entry points, which no test here is about.
FORMATS = load_formats()


@pytest.fixture
def api() -> Iterator[tuple[TestClient, dict[str, Any], dict[str, str]]]:
    settings = Settings(rate_limit_per_minute=1_000_000, admin_rate_limit_per_minute=1_000_000)
    app, _, _ = bootstrap.in_memory(formats=FORMATS, settings=settings)
    admin = app.keys.create(KeyRole.ADMIN, actor="system", label="test").plaintext
    with TestClient(create_app(app)) as client:
        created = client.post(
            "/admin/partners", json={"id": "doc-co", "name": "Doc Co"}, headers={"X-API-Key": admin}
        )
        assert created.status_code == 201, created.text
        key = client.post("/admin/partners/doc-co/keys", json={}, headers={"X-API-Key": admin})
        keys = {"admin": admin, "partner": key.json()["api_key"]}
        # An import of the partner's, so the operations under /partner/imports/{feed_id} answer
        # their pages (not a 404) at every declared bound.
        example = client.get("/partner/contract/example", params={"format": "json", "version": "1"})
        sent = client.post(
            "/partner/ingest",
            content=example.content,
            headers={"X-API-Key": keys["partner"], "Content-Type": "application/json"},
        )
        assert sent.status_code == 200, sent.text
        keys["feed_id"] = sent.json()["feed_id"]
        yield client, client.get("/openapi.json").json(), keys


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield template, method, item[method]


def _headers(operation: dict[str, Any], keys: dict[str, str]) -> dict[str, str]:
    schemes = {name for option in operation["security"] for name in option}
    role = "admin" if "adminKey" in schemes else "partner" if "partnerKey" in schemes else None
    return {} if role is None else {"X-API-Key": keys[role]}


def _path(template: str, keys: dict[str, str]) -> str:
    values = {"partner_id": "doc-co", "sku": "no-such-sku", "feed_id": keys["feed_id"]}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "no-such-thing"), template)


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "components": document["components"]}


def test_an_unknown_query_parameter_is_refused_by_name_on_every_operation(api: Any) -> None:
    client, document, keys = api
    for template, method, operation in _operations(document):
        answer = client.request(
            method.upper(), _path(template, keys), params={"limt": "5"}, headers=_headers(operation, keys)
        )
        assert answer.status_code == 400, (method, template, answer.text)
        body = answer.json()
        assert body["error"] == "unknown_parameter", (method, template, body)
        assert body["details"]["parameters"] == ["limt"]
        declared = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        assert set(body["details"]["known"]) == declared


def test_an_empty_or_repeated_query_parameter_is_a_400_on_every_operation_that_reads_it(api: Any) -> None:
    client, document, keys = api
    seen = 0
    for template, method, operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            if parameter["in"] != "query":
                continue
            seen += 1
            for query in (f"{parameter['name']}=", f"{parameter['name']}=1&{parameter['name']}=2"):
                answer = client.request(
                    method.upper(), f"{_path(template, keys)}?{query}", headers=_headers(operation, keys)
                )
                assert answer.status_code == 400, (method, template, query, answer.text)
                assert answer.json()["error"] == "invalid_parameter"
                assert answer.json()["details"]["parameter"] == parameter["name"]
            schema = parameter["schema"]
            assert (
                "enum" in schema
                or "format" in schema
                or schema["type"] != "string"
                or schema["minLength"] == 1
            )
    assert seen >= 15


def _integer_parameters(
    document: dict[str, Any],
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for template, method, operation in _operations(document):
        if method != "get":
            continue
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "query" and parameter["schema"].get("type") == "integer":
                yield template, method, operation, parameter


def test_every_integer_query_parameter_declares_its_maximum_and_the_server_holds_it(api: Any) -> None:
    client, document, keys = api
    checked = set()
    for template, _, operation, parameter in _integer_parameters(document):
        schema, name = parameter["schema"], parameter["name"]
        assert "maximum" in schema and "minimum" in schema, (template, name)
        if template == "/partner/contract/example":
            continue  # any version is readable: an unknown one is a 404, not a bound
        headers = _headers(operation, keys)
        edge = client.get(_path(template, keys), params={name: str(schema["maximum"])}, headers=headers)
        assert edge.status_code == 200, (template, name, edge.text)
        past = client.get(_path(template, keys), params={name: str(schema["maximum"] + 1)}, headers=headers)
        assert past.status_code in (400, 422), (template, name, past.text)
        assert past.json()["error"] in ("invalid_parameter", "invalid_page")
        below = client.get(_path(template, keys), params={name: str(schema["minimum"] - 1)}, headers=headers)
        assert below.status_code in (400, 422), (template, name, below.text)
        checked.add((template, name))
    assert {
        ("/partner/imports", "limit"),
        ("/partner/products", "limit"),
        ("/partner/jobs", "limit"),
        ("/partner/jobs", "offset"),
        ("/admin/jobs", "offset"),
        ("/admin/audit", "limit"),
        ("/admin/audit", "before_id"),
    } <= checked
    before_id = next(p for _, _, _, p in _integer_parameters(document) if p["name"] == "before_id")
    assert before_id["schema"]["maximum"] == INT64_MAX
    assert before_id["schema"]["format"] == "int64"


def test_every_string_query_parameter_declares_its_length_and_the_server_holds_it(api: Any) -> None:
    client, document, keys = api
    for template, method, operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            schema = parameter["schema"]
            if (
                parameter["in"] != "query"
                or schema.get("type") != "string"
                or "enum" in schema
                or "format" in schema
            ):
                continue
            assert "maxLength" in schema, (template, parameter["name"])
            too_long = "a" * (schema["maxLength"] + 1)
            answer = client.request(
                method.upper(),
                _path(template, keys),
                params={parameter["name"]: too_long},
                headers=_headers(operation, keys),
            )
            assert answer.status_code == 400, (template, parameter["name"], answer.text)


def test_the_raw_example_answers_have_the_media_types_and_schema_the_document_gives(api: Any) -> None:
    client, document, _ = api
    content = document["paths"]["/partner/contract/example"]["get"]["responses"]["200"]["content"]
    examples = client.get("/partner/contract/example").json()["examples"]
    jsonschema.Draft202012Validator(_schema(document, content["application/json"]["schema"])).validate(
        {"examples": examples}
    )
    assert len(examples) >= 14
    for example in examples:
        answer = client.get(
            "/partner/contract/example", params={"format": example["format"], "version": example["version"]}
        )
        assert answer.status_code == 200
        media = answer.headers["content-type"].split(";")[0]
        assert media == example["media_type"]
        assert media in content, f"{media} is not declared"
        if media == "application/json":
            schema = _schema(document, content[media]["schema"])
            jsonschema.Draft202012Validator(schema).validate(answer.json())


def test_a_partner_with_credentials_matches_the_partner_schema(api: Any) -> None:
    client, document, keys = api
    admin = {"X-API-Key": keys["admin"]}
    schema = _schema(document, {"$ref": "#/components/schemas/Partner"})
    with_credentials = client.patch(
        "/admin/partners/doc-co",
        json={
            "endpoint": "https://93.184.215.14/feed.json",
            "endpoint_auth": "Bearer secret",
            "endpoint_headers": {"X-Token": "secret"},
        },
        headers=admin,
    )
    assert with_credentials.status_code == 200, with_credentials.text
    assert with_credentials.json()["endpoint_auth"] == "****"
    jsonschema.Draft202012Validator(schema).validate(with_credentials.json())
    cleared = client.patch("/admin/partners/doc-co", json={"endpoint_auth": None}, headers=admin)
    assert cleared.json()["endpoint_auth"] is None
    jsonschema.Draft202012Validator(schema).validate(cleared.json())
    for listed in client.get("/admin/partners", headers=admin).json()["partners"]:
        jsonschema.Draft202012Validator(schema).validate(listed)
    # What an operator sends is bounded as the server bounds it.
    given = document["components"]["schemas"]["PartnerCreate"]["properties"]
    assert given["rate_limit_per_minute"]["maximum"] == 1_000_000
    assert given["name"]["maxLength"] == 200
    assert given["default_format"]["enum"] == sorted(given["default_format"]["enum"])
    assert "json" in given["default_format"]["enum"]
    refused = client.patch("/admin/partners/doc-co", json={"rate_limit_per_minute": 1_000_001}, headers=admin)
    assert refused.status_code == 422


def test_body_integers_past_64_bits_and_past_their_bounds_are_422_not_500(api: Any) -> None:
    client, document, keys = api
    admin = {"X-API-Key": keys["admin"]}
    schemas = document["components"]["schemas"]
    key_id = client.get("/admin/keys", headers=admin).json()["keys"][0]["id"]
    partner_key = client.post("/admin/partners/doc-co/keys", json={}, headers=admin).json()["id"]
    overlap = schemas["KeyRotate"]["properties"]["overlap_seconds"]
    interval = schemas["ScheduleCreate"]["properties"]["interval_seconds"]
    for method, path, body in [
        ("POST", f"/admin/keys/{partner_key}/rotate", {"overlap_seconds": overlap["maximum"] + 1}),
        ("POST", f"/admin/keys/{key_id}/rotate", {"overlap_seconds": INT64_MAX}),
        ("POST", "/admin/partners/doc-co/schedules", {"interval_seconds": interval["maximum"] + 1}),
        ("POST", "/admin/partners/doc-co/schedules", {"interval_seconds": INT64_MAX}),
        ("PATCH", "/admin/partners/doc-co", {"default_version": INT64_MAX + 1}),
        ("POST", "/admin/partners/doc-co/schedules", {"interval_seconds": 3600, "version": 2**64}),
    ]:
        answer = client.request(method, path, json=body, headers=admin)
        assert answer.status_code == 422, (path, body, answer.text)
    at_edge = client.post(
        f"/admin/keys/{partner_key}/rotate", json={"overlap_seconds": overlap["maximum"]}, headers=admin
    )
    assert at_edge.status_code == 201, at_edge.text


def test_every_error_answer_is_documented_with_the_error_schema(api: Any) -> None:
    _, document, _ = api
    responses = document["components"]["responses"]
    for template, method, operation in _operations(document):
        codes = {int(code) for code in operation["responses"]}
        assert {400, 405, 500} <= codes, (method, template)
        for code, response in operation["responses"].items():
            if int(code) < 400:
                continue
            resolved = responses[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
            schema = resolved["content"]["application/json"]["schema"]
            refs = {s.get("$ref") for s in [schema, *schema.get("anyOf", [])]}
            assert refs & {"#/components/schemas/Error", "#/components/schemas/RejectedFeed"}, (
                method,
                template,
                code,
            )
    assert "unknown_parameter" in responses["BadRequest"]["description"]


def test_every_link_names_an_operation_and_fills_its_path_parameters(api: Any) -> None:
    _, document, _ = api
    by_id = {
        operation["operationId"]: (template, operation) for template, _, operation in _operations(document)
    }
    assert len(by_id) == sum(1 for _ in _operations(document))
    links = 0
    for _, _, operation in _operations(document):
        for response in operation["responses"].values():
            for found in response.get("links", {}).values():
                template, _ = by_id[found["operationId"]]
                assert set(found["parameters"]) == set(re.findall(r"\{(\w+)\}", template)), found
                links += 1
    assert links >= 15


def test_json_numbers_are_read_as_json_schema_reads_them(api: Any) -> None:
    """60.0 is the integer 60; null is no number (where the document says number)."""
    client, _, keys = api
    admin = {"X-API-Key": keys["admin"]}
    integral = client.patch("/admin/partners/doc-co", json={"rate_limit_per_minute": 120.0}, headers=admin)
    assert integral.status_code == 200, integral.text
    assert integral.json()["rate_limit_per_minute"] == 120
    fraction = client.patch("/admin/partners/doc-co", json={"rate_limit_per_minute": 120.5}, headers=admin)
    assert fraction.status_code == 422
    null_ratio = client.patch(
        "/admin/partners/doc-co", json={"policy": {"max_error_ratio": None}}, headers=admin
    )
    assert null_ratio.status_code == 422
    assert "policy.max_error_ratio" in null_ratio.json()["details"]["problems"]


def test_a_schedule_version_or_format_outside_the_document_is_refused_not_read_as_the_default(
    api: Any,
) -> None:
    client, document, keys = api
    admin = {"X-API-Key": keys["admin"]}
    declared = document["components"]["schemas"]["ScheduleCreate"]["properties"]
    assert declared["version"]["minimum"] == 1 and "" not in declared["format"]["enum"]
    for body in ({"interval_seconds": 3600, "version": 0}, {"interval_seconds": 3600, "format": ""}):
        answer = client.post("/admin/partners/doc-co/schedules", json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "invalid_schedule"


def test_only_a_body_of_no_bytes_is_no_body(api: Any) -> None:
    client, _, keys = api
    admin = {"X-API-Key": keys["admin"], "Content-Type": "application/json"}
    assert client.post("/admin/keys", content=b"", headers=admin).status_code == 201
    for blank in (b"\x0c", b"  \n"):
        answer = client.post("/admin/keys", content=blank, headers=admin)
        assert answer.status_code == 400, (blank, answer.text)
        assert answer.json()["error"] == "malformed_json"
