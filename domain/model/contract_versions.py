"""The numbers of the feed contract's versions, apart from their rules (rules.py).

The command line names the newest version in its help, which every command builds at start;
read from `rules.CONTRACTS`, it would build every field rule, the product model and the
currency table first. The rules stay the source: tests/unit/test_feed_versions.py holds
`VERSIONS` to the versions `CONTRACTS` defines.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NEWEST", "VERSIONS"]

VERSIONS: Final = (1, 2)
"""Every feed version the platform understands, ascending (the keys of `rules.CONTRACTS`)."""
NEWEST: Final = VERSIONS[-1]
"""The newest version: what `example` and `validate` use when none is named."""
