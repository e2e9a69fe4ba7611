"""Hypothesis profiles of the property and fuzz tests (tests/properties/, tests/fuzz/).

`ci` (the default): few examples, derandomized (the same examples on every run, so CI is
repeatable), no example database written into the work tree. `fuzz` (`make fuzz`): many more
random examples; failures found are kept under var/ and replayed first the next time.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

# The tests build their clients and rows inside each example (or per test, never per example from a
# fixture), and some examples are large on purpose (1 MB strings): these checks would only be noise.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=_SUPPRESSED,
    print_blob=True,
)
settings.register_profile(
    "fuzz", max_examples=400, deadline=None, suppress_health_check=_SUPPRESSED, print_blob=True,
    database=DirectoryBasedExampleDatabase(Path(__file__).resolve().parent.parent / "var" / "hypothesis"),
)


def profile_name() -> str:
    """The profile named by HYPOTHESIS_PROFILE (default `ci`)."""
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")


def load_profile() -> str:
    """Load the profile named by HYPOTHESIS_PROFILE (default `ci`); answers its name."""
    name = profile_name()
    settings.load_profile(name)
    return name


def examples(ci: int) -> int:
    """Examples for one test: `ci` in the ci profile, scaled up in the others (the fuzz profile's
    max_examples is 400, 16 times ci's 25)."""
    return max(ci, ci * settings.default.max_examples // 25)
