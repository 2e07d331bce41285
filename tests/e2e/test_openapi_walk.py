"""Every route in /openapi.json, walked with bad requests: always the JSON error shape, never a 500.

For each operation the walk sends what a confused or hostile client sends (no
key, a bad key, the wrong role's key, malformed and mistyped bodies, wrong
Content-Types and encodings, bad path and query parameters, bad headers,
methods the route does not have) and holds every answer to the same rules:

- below 500;
- `{"error": <code>, "details": {"message", "request_id", ...}}`, valid against the
  schema the document gives that answer, the request id equal to X-Request-ID;
- a status the operation documents, and a code its description names, so the
  document tells a partner every answer it can get.

Problems are collected and reported together, so one run shows all of them.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx2
import jsonschema
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from support.http import e2e_settings, new_address, running_server
from support.service import LogCapture, Service, json_of, key_id_of
from support.tracing import untraced

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.http.openapi import openapi_path
from partner_ingest.adapters_in.web import ROUTES as PAGE_ROUTES
from partner_ingest.domain.use_cases import DescribeContract

METHODS = ("get", "put", "post", "delete", "patch")
MAX_SYNC = 32 * 1024
MAX_BODY = 128 * 1024
CODE = re.compile(r"[a-z][a-z0-9_]*")


@attrs.frozen
class Case:
    """One bad request against one operation."""

    label: str
    method: str
    path: str
    key: str | None = None
    """The key to present; `@admin` or `@partner` for a fresh key of that role."""
    headers: dict[str, str] = attrs.field(factory=dict)
    content: bytes | None = None
    params: dict[str, str] = attrs.field(factory=dict)


@attrs.define
class Walk:
    """The served document, keys of each role, and the problems found so far."""

    service: Service
    document: dict[str, Any]
    partner_key: str
    admin_keys: Iterator[str]
    problems: list[str] = attrs.field(factory=list)
    codes: dict[int, set[str]] = attrs.field(factory=dict)
    validators: dict[str, jsonschema.Draft202012Validator] = attrs.field(factory=dict)
    """One per answer schema: the walk meets the same few over a thousand times."""

    def key(self, role: str | None) -> str | None:
        if role == "admin":
            return next(self.admin_keys)
        return self.partner_key if role == "partner" else None

    def send(self, case: Case, operation: dict[str, Any] | None) -> httpx2.Response:
        headers = dict(case.headers)
        key = self.key(case.key[1:]) if case.key is not None and case.key.startswith("@") else case.key
        if key is not None:
            headers.setdefault("X-API-Key", key)
        client = self.service.client(new_address())  # a fresh address: failures never add up to a block
        # The client is none of the measured code (the server answers in threads of its own, traced):
        # under coverage its every line, over a thousand requests, would be traced for nothing.
        answer = untraced(
            lambda: client.request(
                case.method, case.path, headers=headers, content=case.content, params=case.params
            )
        )
        self.check(case, operation, answer)
        return answer

    def _validator(self, schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
        name = json.dumps(schema, sort_keys=True)
        if name not in self.validators:
            rooted = {**schema, "components": self.document["components"]}
            self.validators[name] = jsonschema.Draft202012Validator(rooted)
        return self.validators[name]

    def check(self, case: Case, operation: dict[str, Any] | None, answer: httpx2.Response) -> None:
        where = f"{case.method} {case.path} [{case.label}] -> {answer.status_code}"
        if answer.status_code >= 500:
            self.problems.append(f"{where}: {answer.text[:300]}")
            return
        if answer.status_code < 400:
            self.problems.append(f"{where}: a bad request was accepted")
            return
        try:
            body = answer.json()
        except ValueError:
            self.problems.append(f"{where}: not JSON: {answer.text[:200]!r}")
            return
        if not (
            isinstance(body, dict)
            and isinstance(body.get("error"), str)
            and isinstance(body.get("details"), dict)
        ):
            self.problems.append(f"{where}: not {{error, details}}: {str(body)[:200]}")
            return
        if not isinstance(body["details"].get("message"), str):
            self.problems.append(f"{where}: no details.message")
        if body["details"].get("request_id") != answer.headers.get("X-Request-ID"):
            self.problems.append(f"{where}: details.request_id is not the X-Request-ID header")
        if not CODE.fullmatch(body["error"]):
            self.problems.append(f"{where}: {body['error']!r} is not a machine code")
        self.codes.setdefault(answer.status_code, set()).add(body["error"])
        documented = self._resolve(operation["responses"].get(str(answer.status_code))) if operation else None
        if operation is not None and documented is None:
            self.problems.append(f"{where}: status not documented for this operation ({body['error']})")
            return
        content = (documented or {}).get("content", {}).get("application/json", {})
        validator = self._validator(content.get("schema", {"$ref": "#/components/schemas/Error"}))
        # jsonschema is none of the measured code: under coverage its every line would be traced for nothing.
        mismatch = untraced(lambda: next(iter(validator.iter_errors(body)), None))
        if mismatch is not None:
            self.problems.append(f"{where}: not the documented schema ({mismatch.message[:200]})")
        if documented is not None and body["error"] not in documented.get("description", ""):
            self.problems.append(
                f"{where}: code {body['error']!r} not named in the documented answer: {documented['description']!r}"
            )

    def _resolve(self, response: dict[str, Any] | None) -> dict[str, Any] | None:
        if response is not None and "$ref" in response:
            found: dict[str, Any] = self.document["components"]["responses"][
                response["$ref"].rsplit("/", 1)[1]
            ]
            return found
        return response


@pytest.fixture
def walk(serve: Callable[..., Service]) -> Walk:
    # One admin key for the whole walk, its quota raised as the partner's is: the walk sends
    # over five hundred admin requests, and a fresh key for each (under the default 60 a minute)
    # cost a key and its audit entry written per request.
    service = serve(max_sync_bytes=MAX_SYNC, max_body_bytes=MAX_BODY, admin_rate_limit_per_minute=100_000)
    admin = service.admin_key()
    _, partner_key = service.partner(admin, rate_limit_per_minute=100_000)
    document = json_of(service.client().get("/openapi.json"))
    admin_keys = itertools.repeat(admin)
    return Walk(service=service, document=document, partner_key=partner_key, admin_keys=admin_keys)


def _role(operation: dict[str, Any]) -> str | None:
    schemes = {name for option in operation["security"] for name in option}
    if "adminKey" in schemes:
        return "admin"
    return "partner" if "partnerKey" in schemes else None


def _fill(template: str, value: str = "no-such-thing") -> str:
    return re.sub(r"\{[^}]+\}", value, template)


def _body_cases(method: str, path: str, key: str | None, feed: bool) -> list[Case]:
    json_type = {"Content-Type": "application/json"}
    nested = b"[" * 100_000 + b"]" * 100_000
    cases = [
        Case("malformed JSON", method, path, key, json_type, b'{"name": "unterminated'),
        Case("not UTF-8", method, path, key, json_type, b'{"name": "\xff\xfe"}'),
        Case("deeply nested", method, path, key, json_type, nested[: MAX_SYNC - 2]),
        Case("wrong content type", method, path, key, {"Content-Type": "text/plain"}, b"hello"),
        Case(
            "form encoded", method, path, key, {"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"
        ),
        Case("unknown encoding", method, path, key, {**json_type, "Content-Encoding": "br"}, b"{}"),
        Case(
            "broken gzip", method, path, key, {**json_type, "Content-Encoding": "gzip"}, b"\x1f\x8bnot gzip"
        ),
        Case(
            "gzip bomb",
            method,
            path,
            key,
            {**json_type, "Content-Encoding": "gzip"},
            gzip.compress(b" " * (MAX_BODY + 1)),
        ),
        Case("too large", method, path, key, json_type, b" " * (MAX_BODY + 1)),
    ]
    if feed:
        cases += [
            Case("empty feed", method, path, key, json_type, b""),
            Case("a JSON string", method, path, key, json_type, b'"products"'),
            Case("items of the wrong type", method, path, key, json_type, b'{"products": [1, "two", null]}'),
            Case("bad feed version", method, path, key, {**json_type, "X-Feed-Version": "two"}, b"{}"),
            Case("zero feed version", method, path, key, {**json_type, "X-Feed-Version": "0"}, b"{}"),
            Case("unknown feed version", method, path, key, {**json_type, "X-Feed-Version": "99"}, b"{}"),
            Case("bad mode", method, path, key, {**json_type, "X-Validation-Mode": "yolo"}, b"{}"),
            Case(
                "override not allowed",
                method,
                path,
                key,
                {**json_type, "X-Validation-Mode": "lenient"},
                b"{}",
            ),
            Case("bad atomic", method, path, key, {**json_type, "X-Atomic": "maybe"}, b"{}"),
            Case(
                "xml that is not",
                method,
                path,
                key,
                {"Content-Type": "application/xml"},
                b"<catalog><product>",
            ),
            Case("csv with no header", method, path, key, {"Content-Type": "text/csv"}, b""),
            Case("feed over the sync cap", method, path, key, json_type, b" " * (MAX_SYNC + 1)),
        ]
        if path.endswith("/ingest"):
            cases.append(
                Case("bad idempotency key", method, path, key, {**json_type, "Idempotency-Key": ""}, b"{}")
            )
    else:
        cases += [
            Case("a JSON array", method, path, key, json_type, b"[]"),
            Case(
                "wrong field types",
                method,
                path,
                key,
                json_type,
                b'{"name": 5, "label": [], "expires_at": "soon", "overlap_seconds": "x"}',
            ),
            Case("unknown fields", method, path, key, json_type, b'{"is_admin": true, "role": "admin"}'),
            Case("huge number", method, path, key, json_type, b'{"default_version": 1' + b"0" * 5000 + b"}"),
        ]
    return cases


_BAD_QUERY: dict[str, list[str]] = {
    "integer": ["abc", "-1", "1.5", "9" * 40, "0x10"],
    "string": ["x" * 5000],
    "date-time": ["yesterday", "2026-13-45T99:99:99Z"],
    "enum": ["no-such-value"],
}


def _query_cases(method: str, path: str, key: str | None, parameters: list[dict[str, Any]]) -> list[Case]:
    cases = []
    for parameter in parameters:
        if parameter["in"] != "query":
            continue
        schema = parameter.get("schema", {})
        kind = "enum" if "enum" in schema else schema.get("format", schema.get("type", "string"))
        for value in _BAD_QUERY.get(kind, _BAD_QUERY["string"]):
            cases.append(
                Case(
                    f"query {parameter['name']}={value[:12]}",
                    method,
                    path,
                    key,
                    params={parameter["name"]: value},
                )
            )
        if schema.get("type") == "integer" and "minimum" in schema:
            below = str(schema["minimum"] - 1)  # one below the documented minimum must be refused
            cases.append(
                Case(
                    f"query {parameter['name']}={below}", method, path, key, params={parameter["name"]: below}
                )
            )
        if parameter["name"] == "limit":
            cases.append(Case("query limit huge", method, path, key, params={"limit": "99999999"}))
    return cases


_BAD_PATH_VALUES = [
    "no-such-thing",
    "%00",
    "x" * 3000,
    "%C3%BC%E2%80%AE",
    "'%3B%20DROP%20TABLE%20partner%3B--",
]


def test_every_operation_answers_bad_requests_with_the_error_shape(walk: Walk) -> None:
    for template, item in walk.document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            role = _role(operation)
            path = _fill(template)
            verb = method.upper()
            cases: list[Case] = []
            if role is not None:
                cases += [
                    Case("no key", verb, path),
                    Case("malformed key", verb, path, "not-a-key"),
                    Case("bearer with nothing", verb, path, headers={"Authorization": "Bearer"}),
                    Case("basic auth", verb, path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="}),
                    Case("a key of the other role", verb, path, "@partner" if role == "admin" else "@admin"),
                ]
            key = None if role is None else f"@{role}"
            feed = "requestBody" in operation and "text/csv" in operation["requestBody"]["content"]
            if "requestBody" in operation:
                cases += _body_cases(verb, path, key, feed)
            cases += _query_cases(verb, path, key, operation.get("parameters", []))
            if "{" in template:
                cases += [
                    Case(f"path {value[:12]}", verb, _fill(template, value), key)
                    for value in _BAD_PATH_VALUES
                ]
                # An encoded slash is decoded before routing: another path, so any route's answer.
                walk.send(Case("path traversal", verb, _fill(template, "..%2F..%2Fetc%2Fpasswd"), key), None)
            for case in cases:
                walk.send(case, operation)
        # Methods the path does not have.
        for verb in ["PUT", "DELETE", "PATCH", "POST", "GET", "OPTIONS", "BREW"]:
            if verb.lower() in item:
                continue
            answer = walk.send(Case("unknown method", verb, _fill(template)), None)
            if answer.status_code != 405:
                walk.problems.append(f"{verb} {template}: {answer.status_code}, not 405")
            elif not set(answer.headers.get("Allow", "").replace(" ", "").split(",")) >= {
                m.upper() for m in item
            }:
                walk.problems.append(f"{verb} {template}: Allow {answer.headers.get('Allow')!r}")
    assert not walk.problems, "\n".join(walk.problems)
    assert {401, 403, 404, 405, 413, 415} <= set(walk.codes), walk.codes


def test_unknown_paths_and_methods_are_json(walk: Walk) -> None:
    for path in [
        "/",
        "/nothing",
        "/partner",
        "/partner/ingest/",
        "/admin/partners/",
        "/%2e%2e/etc/passwd",
        "/" + "a" * 8000,
    ]:
        answer = walk.send(Case("unknown path", "GET", path), None)
        if answer.status_code != 404:
            walk.problems.append(f"GET {path[:40]}: {answer.status_code}, not 404")
    assert not walk.problems, "\n".join(walk.problems)
    assert walk.codes == {404: {"not_found"}}


def test_every_served_route_is_in_the_document() -> None:
    app, _, _ = bootstrap.in_memory()
    web = create_app(app)
    served = {
        (method.lower(), openapi_path(route.path))
        for route in web.router.routes
        # The pages answer HTML to browsers (adapters_in/web), not the JSON API the document describes.
        if isinstance(route, Route) and route not in PAGE_ROUTES
        for method in route.methods or ()
        if method != "HEAD"
    }
    with TestClient(web) as client:
        document = client.get("/openapi.json").json()
    documented = {
        (method, path) for path, item in document["paths"].items() for method in item if method in METHODS
    }
    assert served == documented
    jsonschema.Draft202012Validator.check_schema({"$defs": document["components"]["schemas"]})


def test_answers_to_good_requests_match_their_documented_schemas(walk: Walk) -> None:
    service, document = walk.service, walk.document
    admin = walk.key("admin")
    assert admin is not None
    partner = service.client(**{"X-API-Key": walk.partner_key})
    example = (
        service.client().get("/partner/contract/example", params={"format": "json", "version": 1}).content
    )
    report = json_of(
        partner.post("/partner/ingest", content=example, headers={"Content-Type": "application/json"})
    )
    partner_id = report["partner_id"]
    key_id = key_id_of(walk.partner_key)
    job = json_of(
        partner.post(
            "/partner/ingest",
            content=example,
            headers={"Content-Type": "application/json", "Prefer": "respond-async"},
        )
    )
    schedule = json_of(
        service.client(**{"X-API-Key": admin}).post(
            f"/admin/partners/{partner_id}/schedules", json={"interval_seconds": 3600, "enabled": False}
        )
    )
    webhook = partner.put("/partner/webhook", json={"url": "https://hooks.example/catalog"})
    check_later = [("put", "/partner/webhook", webhook)]
    values = {
        "partner_id": partner_id,
        "key_id": key_id,
        "feed_id": report["feed_id"],
        "sku": "SKU-1001",
        "job_id": job["id"],
        "schedule_id": schedule["id"],
    }

    def check(method: str, template: str, answer: httpx2.Response) -> None:
        operation = document["paths"][template][method]
        documented = operation["responses"].get(str(answer.status_code))
        assert documented is not None, (method, template, answer.status_code, answer.text)
        content = documented.get("content", {}).get("application/json")
        if content is None:
            return
        schema = {**content["schema"], "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(answer.json())

    for method, template, answer in check_later:
        assert answer.status_code == 201, answer.text
        check(method, template, answer)
    for template, item in document["paths"].items():
        if "get" not in item:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        role = _role(item["get"])
        headers = {"X-API-Key": walk.key(role) or ""} if role else {}
        answer = service.client().get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        check("get", template, answer)
    check(
        "post",
        "/partner/ingest",
        partner.post("/partner/ingest", content=b"{", headers={"Content-Type": "application/json"}),
    )
    admin_client = service.client(**{"X-API-Key": admin})
    check(
        "post",
        "/admin/partners",
        admin_client.post("/admin/partners", json={"id": "schema-co", "name": "Schema Co"}),
    )
    check(
        "post",
        "/admin/partners/{partner_id}/keys",
        admin_client.post("/admin/partners/schema-co/keys", json={}),
    )


class _BrokenFormats:
    """A format registry whose every call fails: a port failing the way a bug or an outage does."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def __getattr__(self, name: str) -> Any:
        def fail(*args: object, **kwargs: object) -> object:
            raise RuntimeError(f"formats unavailable: {self._secret}")

        return fail


def test_a_500_leaks_nothing_and_carries_the_request_id_the_log_has(logs: LogCapture, tmp_path: Path) -> None:
    secret = "/srv/secret/path/db-password=hunter2"
    settings = e2e_settings(str(tmp_path / "broken.db"))
    working = bootstrap.build(settings)
    try:
        app = working.replacing(describe_contract=DescribeContract(_BrokenFormats(secret)))
        with (
            running_server(app) as url,
            httpx2.Client(base_url=url, headers={"X-Forwarded-For": new_address()}) as client,
        ):
            answer = client.get("/partner/contract", headers={"X-Request-ID": "support-ticket-0001"})
            anonymous = client.get("/partner/contract")
    finally:
        working.close()
    assert answer.status_code == 500
    body = json_of(answer)
    assert body["error"] == "internal_error"
    assert body["details"]["request_id"] == answer.headers["X-Request-ID"] == "support-ticket-0001"
    for leak in (secret, "Traceback", "RuntimeError", "formats unavailable", ".py"):
        assert leak not in answer.text
    assert anonymous.status_code == 500
    generated = json_of(anonymous)["details"]["request_id"]
    assert generated == anonymous.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    for request_id in ("support-ticket-0001", generated):
        logged = logs.entries(request_id=request_id)
        assert logged, f"no log line for {request_id}"
        assert any(secret in entry.get("exception", "") for entry in logged), "the cause is in the log"
        assert any(entry.get("status") == 500 and entry.get("outcome") == "error" for entry in logged)
