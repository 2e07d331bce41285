"""The quickstart served at /partner/help: copy-paste commands a partner can onboard from alone (U1).

One document, two renderings: JSON (the default: steps a script or a test can
run as they are) and Markdown (`Accept: text/markdown`, for people). Commands
use two shell variables, `PARTNER_INGEST_URL` (filled in with the address the
request reached) and `API_KEY`, so they paste unchanged into a terminal or a
CI job. The e2e suite runs every command with the real curl.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["markdown", "quickstart"]

_KEY = '-H "X-API-Key: $API_KEY"'
_ADMIN = '-H "X-API-Key: $ADMIN_KEY"'


def _step(key: str, title: str, why: str, command: str) -> dict[str, str]:
    return {"id": key, "title": title, "why": why, "command": command}


def quickstart(base_url: str, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The quickstart for a service reached at `base_url`, sending the newest JSON example."""
    json_examples = [e for e in examples if e["format"] == "json"] or list(examples)
    newest = max(json_examples, key=lambda e: e["version"])
    return {
        "title": "partner-catalog-ingest: send your first feed in five commands",
        "base_url": base_url,
        "steps": _partner_steps(base_url, newest),
        "operator_steps": _operator_steps(newest["version"]),
        "formats": [
            {"format": e["format"], "version": e["version"], "content_type": e["media_type"]}
            for e in examples
        ],
        "headers": dict(_HEADERS),
        "errors": _ERRORS,
        "webhooks": _webhooks(),
        "links": {
            "contract": f"{base_url}/partner/contract",
            "examples": f"{base_url}/partner/contract/example",
            "openapi": f"{base_url}/openapi.json",
        },
    }


_URL: Final = '"$PARTNER_INGEST_URL'
"""Where each command sends its request: the service the partner's shell points at (step "setup")."""


def _operator_steps(version: int) -> list[dict[str, str]]:
    """What an operator does first: the partner, and its key."""
    url = _URL
    return [
        _step(
            "create-partner",
            "Create the partner",
            "Operators only, with an admin key (pcia_...). The id appears in URLs and reports.",
            f'curl -sS -X POST {url}/admin/partners" {_ADMIN} -H "Content-Type: application/json" '
            f'-d \'{{"id": "acme", "name": "Acme Ltd", "default_version": {version}}}\'',
        ),
        _step(
            "create-key",
            "Issue the partner's API key",
            "The answer's api_key is shown once: hand it to the partner over a safe channel.",
            f'curl -sS -X POST {url}/admin/partners/acme/keys" {_ADMIN} -H "Content-Type: application/json" '
            '-d \'{"label": "acme production"}\'',
        ),
    ]


def _partner_steps(base_url: str, example: dict[str, Any]) -> list[dict[str, str]]:
    """The partner's five commands (and how to read the results), sending `example`'s format."""
    fmt, version, media = example["format"], example["version"], example["media_type"]
    send = f'-H "Content-Type: {media}" -H "X-Feed-Version: {version}" --data-binary @feed.{fmt}'
    return [
        _step(
            "setup",
            "Point your shell at the service",
            "Every command below reads these two variables; your key comes from your platform operator.",
            f"export PARTNER_INGEST_URL={base_url}\nexport API_KEY=pcik_your_key_here",
        ),
        _step(
            "contract",
            "Read the contract",
            "Versions, formats and their Content-Types, the JSON Schema of an item, every error code.",
            f'curl -sS {_URL}/partner/contract"',
        ),
        _step(
            "example",
            "Download an example feed",
            f"A {fmt} v{version} feed that validates; /partner/contract/example lists one per format and version.",
            f'curl -sS -o feed.{fmt} {_URL}/partner/contract/example?format={fmt}&version={version}"',
        ),
        _step(
            "validate",
            "Dry run: validate without storing",
            "The same report a real ingest gives, counted against your stored catalog; nothing is written.",
            f'curl -sS -X POST {_URL}/partner/validate" {_KEY} {send}',
        ),
        _step(
            "ingest",
            "Send the feed",
            "200 with the report (422 when nothing was accepted). Repeat with the same Idempotency-Key "
            "or the same content and you get the same report back, applied once; a key sent again "
            "with a different feed is refused (422 idempotency_key_reused), so use a new key per feed.",
            f'curl -sS -X POST {_URL}/partner/ingest" {_KEY} -H "Idempotency-Key: first-feed" {send}',
        ),
        _step(
            "imports",
            "Read your reports later",
            "Your latest imports, each with its report; GET /partner/imports/{feed_id} reads one. "
            "Every rejected item is kept: GET /partner/imports/{feed_id}/errors pages them (?format=csv "
            "or jsonl downloads them all), /errors/summary groups them by code, and "
            "GET /partner/products/{sku}/status says where one SKU stands. Resend only the fixed items.",
            f'curl -sS {_URL}/partner/imports?limit=5" {_KEY}',
        ),
        _step(
            "products",
            "See what is stored",
            "Your products in SKU order; pass next_after as ?after= for the next page.",
            f'curl -sS {_URL}/partner/products?limit=10" {_KEY}',
        ),
        _step(
            "gzip",
            "Compress large feeds",
            "gzip bodies are accepted; the size limit applies to the decompressed feed.",
            f'gzip -c feed.{fmt} | curl -sS -X POST {_URL}/partner/ingest" {_KEY} '
            f'-H "Content-Encoding: gzip" -H "Content-Type: {media}" -H "X-Feed-Version: {version}" --data-binary @-',
        ),
    ]


_HEADERS: Final[dict[str, str]] = {
    "X-API-Key": "your key (or Authorization: Bearer <key>)",
    "Content-Type": "selects the format (see formats)",
    "X-Feed-Version": "the contract version; default: yours. A deprecated version is answered with "
    "Deprecation and Sunset headers and a report warning, and refused after its sunset "
    "(400 contract_version_retired); GET /partner/contract/diff?from=1&to=2 says what changes",
    "Idempotency-Key": "send a feed at most once, whatever the retries; one key names one request, "
    "sent now or as a job",
    "X-Validation-Mode / X-Atomic": "strict|lenient, true|false: per-feed policy, if your account allows it",
    "X-Feed-Mode": "upsert|snapshot|patch: upsert changes only what the feed names; snapshot retires "
    "your products the feed leaves out (held for an operator past the mass-delete guard); patch changes "
    'only the fields sent (null clears one). "_delete": true on an item retires its SKU in any mode',
    "Content-Encoding": "gzip",
}

_ERRORS: Final = (
    'Every error is JSON {"error": <code>, "details": {"message", "request_id", ...}}: '
    "branch on error, show details.message, quote details.request_id to support. "
    "Item and feed errors in a report carry a `hint` where the fix can be told (did you mean "
    "'price'?, the allowed values, the delimiter your CSV looks like) and a location: a physical "
    "line, a CSV cell, a JSON column and byte offset. "
    "429 answers carry Retry-After; every answer carries your key's RateLimit fields."
)


def _webhooks() -> dict[str, Any]:
    """Why and how a partner is told when a feed or a job ends (ADR 0034)."""
    url = _URL
    return {
        "why": "Be told when a feed or job ends instead of polling: the platform POSTs import.completed "
        "(accepted, partial, rejected) and job.dead events to your URL, signed per Standard Webhooks "
        "(headers webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of "
        "id.timestamp.body> under your whsec_ secret, shown once). Answer 2xx quickly; anything else "
        "is retried with backoff for a day, the same webhook-id each time (deduplicate on it). After a "
        "run of failures the webhook is disabled: PUT it again to enable it. The README shows a "
        "receiver that verifies the signature in a few lines of Python.",
        "commands": [
            f'curl -sS -X PUT {url}/partner/webhook" {_KEY} -H "Content-Type: application/json" '
            '-d \'{"url": "https://your-host.example/hooks/catalog"}\'',
            f'curl -sS -X POST {url}/partner/webhook/test" {_KEY}',
            f'curl -sS {url}/partner/webhook/deliveries" {_KEY}',
            f'curl -sS -X POST {url}/partner/webhook/rotate" {_KEY}',
        ],
    }


def markdown(doc: dict[str, Any]) -> str:
    """The same quickstart for people."""
    lines = [f"# {doc['title']}", ""]
    for number, step in enumerate(doc["steps"], start=1):
        lines += [f"## {number}. {step['title']}", "", step["why"], "", "```sh", step["command"], "```", ""]
    lines += ["## Formats", "", "| format | version | Content-Type |", "| --- | --- | --- |"]
    lines += [f"| {f['format']} | {f['version']} | `{f['content_type']}` |" for f in doc["formats"]]
    lines += ["", "## Headers", ""]
    lines += [f"- `{name}`: {text}" for name, text in doc["headers"].items()]
    lines += ["", "## Errors", "", doc["errors"], "", "## Webhooks", "", doc["webhooks"]["why"], "", "```sh"]
    lines += [*doc["webhooks"]["commands"], "```"]
    lines += ["", "## For operators", ""]
    for step in doc["operator_steps"]:
        lines += [f"### {step['title']}", "", step["why"], "", "```sh", step["command"], "```", ""]
    lines += [f"OpenAPI: {doc['links']['openapi']}", ""]
    return "\n".join(lines)
