"""What changes between two contract versions, as data: fields and rules added, removed, changed.

Computed from the JSON Schema each version publishes (itself generated from the validator's
rules), so the diff says exactly what the validator will do differently: a field's schema
keyword by keyword (type, bounds, pattern, enum, required...), whether it is required, and
the rules beyond the schema. A partner moving from one version to the next reads what to
change in its feed from `changed` and `added` (a new required field), and what it may drop
from `removed`.
"""

from __future__ import annotations

from typing import Any

from .contract import json_schema
from .rules import FeedContract

__all__ = ["contract_diff"]

_IGNORED = frozenset({"description", "examples"})
"""Keywords that document a field without changing what is accepted."""


def contract_diff(old: FeedContract, new: FeedContract) -> dict[str, Any]:
    """The difference from `old` to `new` (see the module docstring); empty lists when equal."""
    a, b = json_schema(old), json_schema(new)
    items_a, items_b = a["$defs"]["product"], b["$defs"]["product"]
    fields_a, fields_b = items_a["properties"], items_b["properties"]
    required_a, required_b = set(items_a["required"]), set(items_b["required"])
    depends_a = items_a.get("dependentRequired", {})
    depends_b = items_b.get("dependentRequired", {})
    changed: list[dict[str, Any]] = []
    for name in sorted(set(fields_a) & set(fields_b)):
        changed.extend(_field_changes(name, fields_a[name], fields_b[name]))
        if (name in required_a) != (name in required_b):
            changed.append(
                {"field": name, "keyword": "required", "from": name in required_a, "to": name in required_b}
            )
        if depends_a.get(name) != depends_b.get(name):
            changed.append(
                {"field": name, "keyword": "requires", "from": depends_a.get(name), "to": depends_b.get(name)}
            )
    rules_a, rules_b = a["x-rules"], b["x-rules"]
    return {
        "from": old.version,
        "to": new.version,
        "fields": {
            "added": [
                {"field": name, "required": name in required_b, "schema": _shown(fields_b[name])}
                for name in sorted(set(fields_b) - set(fields_a))
            ],
            "removed": [
                {"field": name, "was_required": name in required_a}
                for name in sorted(set(fields_a) - set(fields_b))
            ],
            "changed": changed,
        },
        "rules": {
            "added": [rule for rule in rules_b if rule not in rules_a],
            "removed": [rule for rule in rules_a if rule not in rules_b],
        },
    }


def _field_changes(name: str, a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Keyword by keyword; an object field's members by their own path (`dimensions.width`)."""
    path = f"{prefix}{name}"
    out: list[dict[str, Any]] = []
    if a.get("type") == b.get("type") == "object":
        members_a, members_b = a.get("properties", {}), b.get("properties", {})
        for member in sorted(set(members_a) | set(members_b)):
            if member not in members_b:
                out.append({"field": f"{path}.{member}", "keyword": "field", "from": "present", "to": None})
            elif member not in members_a:
                out.append({"field": f"{path}.{member}", "keyword": "field", "from": None, "to": "present"})
            else:
                out.extend(_field_changes(member, members_a[member], members_b[member], f"{path}."))
        skip = _IGNORED | {"properties"}
    else:
        skip = _IGNORED
    for keyword in sorted((set(a) | set(b)) - skip):
        if a.get(keyword) != b.get(keyword):
            out.append({"field": path, "keyword": keyword, "from": a.get(keyword), "to": b.get(keyword)})
    return out


def _shown(schema: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in schema.items() if k != "examples"}
    if isinstance(shown.get("properties"), dict):
        shown["properties"] = {k: _shown(v) for k, v in shown["properties"].items()}
    return shown
