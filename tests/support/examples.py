"""How many examples a hypothesis test meets: its thorough count in CI, a share of it locally.

Some properties ask for more examples than the profile's (`@settings(max_examples=400)`)
because their faults are rare; an explicit count overrides the loaded profile, so
without this it would run as long in a developer's quick run as in CI. `examples(n)`
is `n` under the CI profile (tests/conftest.py, `HYPOTHESIS_PROFILE=ci`, which
`.ci/run` sets), and the same share of `n` as the loaded profile is of the CI one
elsewhere, never fewer than that profile's own count nor more than `n`. The
properties stay the same everywhere; only how many cases meet them changes
(docs/ADR/0012-testability.md).
"""

from __future__ import annotations

from hypothesis import settings

__all__ = ["CI_EXAMPLES", "examples"]

CI_EXAMPLES = 200  # the "ci" profile's max_examples (tests/conftest.py)


def examples(thorough: int) -> int:
    """`thorough` under the CI profile; scaled down with the loaded profile's count otherwise."""
    loaded = settings().max_examples
    return min(thorough, max(loaded, thorough * loaded // CI_EXAMPLES))
