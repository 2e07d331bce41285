"""Use case: describe the published contract (I1, I2, U1): versions, formats, schemas, examples."""

from __future__ import annotations

from typing import Any

from partner_ingest.domain.model.contract import UNEXPRESSED_RULES, example_product, json_schema
from partner_ingest.domain.model.contract_diff import contract_diff
from partner_ingest.domain.model.errors import UnknownVersionError
from partner_ingest.domain.model.feed_mode import FEED_MODES_CONTRACT
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.report import ErrorCode
from partner_ingest.domain.model.rules import CONTRACT_VERSION, CONTRACTS
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.formats import DescribedFormat, FeedFormat, FormatRegistry

__all__ = ["DescribeContract"]


class DescribeContract:
    """The machine-readable contract, generated from the rules and the registered formats."""

    def __init__(
        self, formats: FormatRegistry, lifecycle: ContractLifecycle | None = None, clock: Clock | None = None
    ) -> None:
        self._formats = formats
        self._lifecycle = lifecycle or ContractLifecycle()
        self._clock = clock

    def __call__(self) -> dict[str, Any]:
        """The contract document served at /partner/contract."""
        return {
            "contract_version": CONTRACT_VERSION,
            "versions": sorted(CONTRACTS),
            "default_version": 1,
            "lifecycle": self.lifecycle(),
            "formats": [_format_entry(f) for f in self._formats.all() if f.version in CONTRACTS],
            "schemas": {str(v): json_schema(c) for v, c in sorted(CONTRACTS.items())},
            "rules_beyond_schema": list(UNEXPRESSED_RULES),
            "error_codes": [str(code) for code in ErrorCode],
            **FEED_MODES_CONTRACT,
        }

    def lifecycle(self) -> dict[str, dict[str, Any]]:
        """Each version's status in force now (current, deprecated with its sunset, retired)."""
        out: dict[str, dict[str, Any]] = {}
        for version in sorted(CONTRACTS):
            entry = self._lifecycle.of_version(version)
            status = entry.status if self._clock is None else entry.status_at(self._clock.now())
            shown: dict[str, Any] = {"status": str(status)}
            if entry.sunset is not None:
                shown["sunset"] = entry.sunset.isoformat()
            out[str(version)] = shown
        return out

    def diff(self, old: int | None = None, new: int | None = None) -> dict[str, Any]:
        """What changes from contract version `old` (default: the oldest) to `new` (default: the
        newest); UnknownVersionError for either unknown."""
        old = min(CONTRACTS) if old is None else old
        new = max(CONTRACTS) if new is None else new
        for version in (old, new):
            if version not in CONTRACTS:
                raise UnknownVersionError("contract", version, sorted(CONTRACTS))
        return contract_diff(CONTRACTS[old], CONTRACTS[new])

    def examples(self) -> list[dict[str, Any]]:
        """One example feed per (format, version), each valid under its contract (U1).

        A format of a foreign document gives its own sample (`"sample": true`), written
        from that document's specification, with the partner settings it needs."""
        out = []
        for fmt in self._formats.all():
            contract = CONTRACTS.get(fmt.version)
            if contract is None:
                continue
            example: dict[str, Any] = {
                "format": fmt.name,
                "version": fmt.version,
                "media_type": fmt.media_types[0],
            }
            if isinstance(fmt, DescribedFormat):
                example["body"] = fmt.sample().decode("utf-8")
                example["sample"] = True
                example["partner_settings"] = list(fmt.mapping.settings)
            else:
                example["body"] = fmt.render([example_product(contract)]).decode("utf-8")
            out.append(example)
        return out


def _format_entry(fmt: FeedFormat) -> dict[str, Any]:
    entry: dict[str, Any] = {"format": fmt.name, "version": fmt.version, "media_types": list(fmt.media_types)}
    if isinstance(fmt, DescribedFormat):
        entry["mapping"] = fmt.mapping.to_json()
    return entry
