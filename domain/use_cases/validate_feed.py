"""Use case: validate a feed exactly as the server would, without any database (I1).

This is what `partner-ingest validate` runs in a partner's CI: same formats, same
rules, same report, only nothing is stored and every valid item counts as created.
`validate_against_contract` is the same check as one call, for a partner's own code.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from partner_ingest.domain.model.feed_source import FeedContext
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.formats import FormatRegistry, for_partner
from partner_ingest.ports.parsing import FeedParsing

from .pipeline import PARSE_HERE, SetSink, reading_for, run_feed

__all__ = ["ValidateFeed", "validate_against_contract"]


class ValidateFeed:
    """Dry validation against the contract; needs only the format registry."""

    def __init__(
        self,
        formats: FormatRegistry,
        *,
        limits: FeedLimits | None = None,
        errors_cap: int = 100,
        fast_validator: bool = True,
        parsing: FeedParsing | None = None,
    ) -> None:
        """`fast_validator=False` validates every item with the reference validator alone
        (the generated fast path gives the same results); `parsing` as for `IngestFeed`."""
        self._formats = formats
        self._limits = limits or FeedLimits()
        self._errors_cap = errors_cap
        self._fast_validator = fast_validator
        self._parsing = parsing or PARSE_HERE

    def __call__(
        self,
        body: BinaryIO | bytes,
        *,
        format: str | None = None,
        media_type: str | None = None,
        version: int = 1,
        policy: ValidationPolicy | None = None,
        partner_id: str = "local",
        currency: str | None = None,
    ) -> IngestReport:
        """The report the server would give this feed (counts: valid items as created);
        `currency` stands in for the partner's currency setting."""
        name = format or self._formats.name_for_media_type(media_type or "application/json")
        fmt = for_partner(self._formats.get(name, version), FeedContext(partner_id, currency))
        policy = policy or ValidationPolicy()
        reading = reading_for(
            fmt, policy.mode, partner_id=partner_id, limits=self._limits, fast_validator=self._fast_validator
        )
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        outcome = run_feed(
            fmt, reading, stream, policy, SetSink(), errors_cap=self._errors_cap, parsing=self._parsing
        )
        return outcome.report("dry-run", partner_id, fmt, dry_run=True)


def validate_against_contract(
    document: bytes | BinaryIO,
    *,
    formats: FormatRegistry,
    format: str | None = None,
    media_type: str | None = None,
    version: int = 1,
    mode: Mode | str = Mode.STRICT,
    currency: str | None = None,
    fast_validator: bool = True,
    parsing: FeedParsing | None = None,
) -> IngestReport:
    """Check a feed against the published contract, with no database (I1).

    The report is the one the server would give, with every valid item counted
    as created. `formats` is the registry the server uses (`plugins.load_formats()`);
    `currency` stands in for the partner's currency setting (formats whose
    documents carry none need it).
    """
    validate = ValidateFeed(formats, fast_validator=fast_validator, parsing=parsing)
    return validate(
        document,
        format=format,
        media_type=media_type,
        version=version,
        policy=ValidationPolicy(mode=Mode(mode)),
        currency=currency,
    )
