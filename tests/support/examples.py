"""How many examples a hypothesis test meets: its thorough count in CI, a share of it locally.

Some properties ask for more examples than the profile's (`@settings(max_examples=400)`)
because their faults are rare; an explicit count overrides the loaded profile, so
without this it would run as long in a developer's quick run as in CI. `examples(n)`
is `n` under the CI profile (tests/conftest.py, `HYPOTHESIS_PROFILE=ci`, which
`.ci/run` sets), and the same share of `n` as the loaded profile is of the CI one
elsewhere, never fewer than that profile's own count nor more than `n`. The
properties stay the same everywhere; only how many cases meet them changes
(docs/ADR/0012-testability.md).

`at_scale(thorough, quick)` is the same rule for the size of a real-process test (jobs over
several workers, requests through several instances): the figure a claim names in CI, a
smaller one locally, where the test asserts the same of fewer items.
"""

from __future__ import annotations

from hypothesis import settings

__all__ = ["CI_EXAMPLES", "at_scale", "examples", "thorough"]

CI_EXAMPLES = 200  # the "ci" profile's max_examples (tests/conftest.py)


def examples(thorough: int) -> int:
    """`thorough` under the CI profile; scaled down with the loaded profile's count otherwise."""
    loaded = settings().max_examples
    return min(thorough, max(loaded, thorough * loaded // CI_EXAMPLES))


def thorough() -> bool:
    """Whether the CI profile (or one at least as thorough) is loaded."""
    return settings().max_examples >= CI_EXAMPLES


def at_scale(thorough_count: int, quick_count: int) -> int:
    """`thorough_count` under the CI profile, `quick_count` otherwise."""
    return thorough_count if thorough() else quick_count
