"""Partners: who sends feeds, how their feeds are judged, and where they are pulled from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from .errors import PolicyOverrideDenied
from .feed_mode import FeedMode
from .policy import PolicyOverrides, ValidationPolicy

__all__ = ["PARTNER_ID_PATTERN", "Partner", "valid_partner_id"]

PARTNER_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def valid_partner_id(value: str) -> bool:
    """Partner ids are short lowercase slugs: they appear in URLs, logs and keys."""
    return PARTNER_ID_PATTERN.fullmatch(value) is not None


@attrs.frozen
class Partner:
    """A merchant or supplier allowed to send feeds."""

    id: str
    name: str
    created_at: datetime
    default_format: str = "json"
    default_version: int = 1
    """Feed version used when a request names none (I2: v1 partners keep working)."""
    policy: ValidationPolicy = attrs.field(factory=ValidationPolicy)
    allow_policy_override: bool = False
    """May a request choose its own policy (e.g. a dry run in lenient mode)?"""
    currency: str | None = None
    """ISO 4217 code for feeds whose format carries no currency (Shopify's product CSV);
    None: such a feed is refused with a `missing_setting` feed error."""
    rate_limit_per_minute: int | None = None
    """None: the platform default (60)."""
    endpoint: str | None = None
    """URL the scheduler pulls the partner's feed from, if any."""
    endpoint_auth: str | None = None
    """Encrypted credential for `endpoint` (never plaintext; see CredentialVault)."""
    endpoint_headers: Mapping[str, str] = attrs.field(factory=dict)
    """Extra request headers; values are encrypted like `endpoint_auth`."""
    active: bool = True
    feed_mode: FeedMode = attrs.field(default=FeedMode.UPSERT, converter=FeedMode)
    """The mode of the partner's feeds that name none (ADR 0036)."""

    def policy_for(self, overrides: PolicyOverrides) -> ValidationPolicy:
        """The policy one of this partner's feeds is judged by: the partner's own, changed as
        `overrides` ask where the partner allows it; PolicyOverrideDenied otherwise."""
        policy = overrides.applied_to(self.policy)
        if policy is not self.policy and policy != self.policy and not self.allow_policy_override:
            raise PolicyOverrideDenied(f"partner {self.id!r} may not choose its own validation policy")
        return policy
