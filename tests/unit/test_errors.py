"""Errors by meaning: every error the library raises on purpose derives from one of the few
bases of domain/model/errors.py, and the HTTP layer maps those bases and nothing else, so a
new error never needs a new mapping (and never falls through to a 500)."""

from __future__ import annotations

import importlib
import pkgutil

from partner_ingest.adapters_in.http import errors as http_errors
from partner_ingest.domain.model import errors

BASES = {
    errors.InvalidError,
    errors.UnreadableError,
    errors.UnsupportedError,
    errors.DeniedError,
    errors.UnauthenticatedError,
    errors.RateLimitedError,
    errors.NotFoundError,
    errors.ConflictError,
    errors.TooLargeError,
    errors.UnavailableError,
}


def every_error() -> set[type[errors.IngestError]]:
    for portion in ("domain", "ports", "adapters_in", "adapters_out", "plugins"):
        package = importlib.import_module(f"partner_ingest.{portion}")
        for module in pkgutil.walk_packages(package.__path__, prefix=f"partner_ingest.{portion}."):
            # The parser helper's modules: nothing to find there, and importing them is costly.
            if not module.name.rpartition(".")[2].startswith("parser_"):
                importlib.import_module(module.name)
    found: set[type[errors.IngestError]] = set()
    pending = [errors.IngestError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_every_error_derives_from_a_base_by_meaning() -> None:
    found = every_error()
    assert len(found) > 30  # the walk found the library's errors, not just the bases
    orphans = sorted(e.__qualname__ for e in found - BASES if not any(issubclass(e, b) for b in BASES))
    assert orphans == []


def test_the_http_layer_maps_the_bases_and_nothing_else() -> None:
    assert set(http_errors._STATUS) == BASES


def test_the_most_specific_base_decides_the_status() -> None:
    assert http_errors._status_of(errors.UnknownVersionError("json", 9, [1, 2])) == 400
    assert http_errors._status_of(errors.UnknownFormatError("text/x", ["application/json"])) == 415
    assert http_errors._status_of(errors.IdempotencyKeyReused("k", ["body"])) == 422
    assert http_errors._status_of(errors.PolicyOverrideDenied("no")) == 403
    assert http_errors._status_of(errors.IdempotencyKeyNamesJob("k", "j", "queued")) == 409
    assert http_errors._status_of(http_errors.FeedTooLargeForSync("big")) == 413
