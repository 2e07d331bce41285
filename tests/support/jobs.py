"""Test support for the job API: follow a job until it is done, check answers against OpenAPI.

`finished_job` polls the job's own URL (bounded, for tests whose point is a real
background worker); `assert_conforms` validates an answer against a schema of
the served OpenAPI document, so the document and the answers cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx2
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]  # stubs may or may not be installed

__all__ = ["assert_conforms", "finished_job"]

DONE = ("succeeded", "dead", "cancelled")


def finished_job(client: httpx2.Client, key: str, location: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """GET `location` with `key` until the job has finished (succeeded, dead, cancelled); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(location, headers={"X-API-Key": key})
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["status"] in DONE:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {location} still {job['status']} after {timeout} s")
        time.sleep(0.1)


def assert_conforms(document: Mapping[str, Any], schema: str, value: object) -> None:
    """`value` is valid against `#/components/schemas/<schema>` of the OpenAPI `document`."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(value), key=str)
    assert not errors, f"not a valid {schema}: {errors[0].message} at {list(errors[0].absolute_path)}"
