"""OpenAPI schemas of jobs, schedules and circuits: the shapes of job_views.py.

Kept beside _schemas.py (which merges them into the components) so the job
delivery can grow without editing the partner and admin shapes.
"""

from __future__ import annotations

from typing import Any, Final

from partner_ingest.domain.model.circuits import CircuitState
from partner_ingest.domain.model.jobs import JobStatus
from partner_ingest.domain.use_cases.manage_schedules import MAX_INTERVAL, MIN_INTERVAL

__all__ = ["JOB_SCHEMAS"]

_STR: Final = {"type": "string"}
_OPT_STR: Final = {"type": ["string", "null"]}
_INT: Final = {"type": "integer"}
_OPT_INT: Final = {"type": ["integer", "null"]}
_TIME: Final = {"type": "string", "format": "date-time"}
_OPT_TIME: Final = {"type": ["string", "null"], "format": "date-time"}


def _obj(required: list[str], properties: dict[str, Any], *, one_rule: bool = False) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties, "additionalProperties": False}
    if one_rule:
        schema["oneOf"] = [{"required": ["interval_seconds"]}, {"required": ["cron"]}]
    return schema


def _list(name: str, item: str) -> dict[str, Any]:
    return _obj([name], {name: {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}})


_JOB: Final = _obj(
    ["id", "partner_id", "status", "format", "version", "attempts", "max_attempts", "created_at", "location"],
    {
        "id": _STR,
        "partner_id": _STR,
        "status": {"type": "string", "enum": [str(s) for s in JobStatus]},
        "format": _STR,
        "version": _INT,
        "source": {"type": "string", "enum": ["push", "pull", "cli"]},
        "bytes": {"type": "integer", "description": "size of the stored feed, decompressed"},
        "content_hash": {"type": "string", "description": "SHA-256 of the feed, hex"},
        "idempotency_key": _OPT_STR,
        "created_at": _TIME,
        "attempts": {"type": "integer", "description": "attempts started so far"},
        "max_attempts": _INT,
        "next_attempt_at": {**_OPT_TIME, "description": "when a queued job may run (after a backoff)"},
        "lease_expires_at": {**_OPT_TIME, "description": "while running: when its worker's lease ends"},
        "progress": {
            "oneOf": [
                {"type": "null"},
                _obj(
                    ["items_read", "bytes_read"],
                    {"items_read": _INT, "bytes_read": _INT},
                ),
            ],
            "description": "while running: items and bytes of the feed read so far, as the worker's "
            "lease heartbeat last recorded them (every third of the lease); null otherwise",
        },
        "last_error": {**_OPT_STR, "description": "why the last attempt failed"},
        "finished_at": _OPT_TIME,
        "outcome": {
            "type": ["string", "null"],
            "enum": ["accepted", "partial", "rejected", "dead", "cancelled", None],
            "description": "how the feed ended, in the report's words: a job `succeeded` when its feed was "
            "processed, whatever the feed's own status (its report's `status`, repeated here); `dead` or "
            "`cancelled` when it was never processed; null while it is open",
        },
        "report": {
            "oneOf": [{"$ref": "#/components/schemas/IngestReport"}, {"type": "null"}],
            "description": "the feed's report once the job succeeded",
        },
        "location": {"type": "string", "description": "this job's URL (path, under the mount prefix)"},
    },
)
_SCHEDULE: Final = _obj(
    ["id", "partner_id", "enabled", "next_run_at"],
    {
        "id": _STR,
        "partner_id": _STR,
        "interval_seconds": _OPT_INT,
        "cron": {**_OPT_STR, "description": "five fields (minute hour day month weekday), UTC"},
        "enabled": {"type": "boolean"},
        "format": {**_OPT_STR, "description": "null: the partner's default format"},
        "version": _OPT_INT,
        "next_run_at": _TIME,
        "last_run_at": _OPT_TIME,
        "etag": _OPT_STR,
        "last_modified": _OPT_STR,
        "last_content_hash": _OPT_STR,
        "last_outcome": {
            **_OPT_STR,
            "description": "how the last run went: fetched, not_modified, unchanged, a failure "
            "(http_error, timeout, refused_address, circuit_open, ...), no_endpoint or bad_schedule",
        },
        "last_error": {**_OPT_STR, "description": "why the last run fetched nothing; null when it did"},
        "last_job_id": {**_OPT_STR, "description": "the job the last run submitted"},
        "feed_mode": {
            "type": ["string", "null"],
            "enum": ["upsert", "snapshot", "patch", None],
            "description": "mode of the pulled feeds; null: the partner's feed_mode",
        },
    },
)
_RULE: Final = {
    "interval_seconds": {
        "type": "integer",
        "minimum": MIN_INTERVAL,
        "maximum": MAX_INTERVAL,
        "description": "either this or cron",
    },
    "cron": {
        "type": "string",
        "minLength": 1,
        "description": "either this or interval_seconds; five fields, e.g. `0 3 * * *`",
    },
    "enabled": {"type": "boolean", "default": True},
}

JOB_SCHEMAS: Final[dict[str, Any]] = {
    "Job": _JOB,
    "JobPage": _obj(
        ["jobs", "next_offset"],
        {
            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
            "next_offset": _OPT_INT,
            "next": {"type": ["string", "null"], "description": "URL of the next page"},
        },
    ),
    "Schedule": _SCHEDULE,
    "ScheduleList": _list("schedules", "Schedule"),
    "ScheduleCreate": _obj(
        [],
        {
            **_RULE,
            "format": {"type": "string", "minLength": 1, "description": "default: the partner's"},
            "version": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1},
            "feed_mode": {
                "type": "string",
                "enum": ["upsert", "snapshot", "patch"],
                "description": "default: the partner's feed_mode",
            },
        },
        # Exactly one rule: not both, not neither (422 invalid_schedule otherwise).
        one_rule=True,
    ),
    # One rule at a time: the one given replaces the other.
    "ScheduleUpdate": {**_obj([], _RULE), "not": {"required": ["interval_seconds", "cron"]}},
    "Circuit": _obj(
        ["partner_id", "endpoint", "state", "failures", "opened_at", "next_probe_at"],
        {
            "partner_id": {
                "type": ["string", "null"],
                "description": "whose feed; null for a fetch made on no partner's behalf",
            },
            "endpoint": {"type": "string", "description": "scheme://host:port of the feed URL"},
            "state": {"type": "string", "enum": [str(s) for s in CircuitState]},
            "failures": {"type": "integer", "description": "consecutive endpoint failures"},
            "opened_at": _OPT_TIME,
            "next_probe_at": _OPT_TIME,
        },
    ),
    "CircuitList": _list("circuits", "Circuit"),
}
