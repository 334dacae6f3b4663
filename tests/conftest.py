"""Shared test configuration: hypothesis profiles and paths to the shipped files."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
NOTICES = ROOT / "notices"
EXAMPLES = ROOT / "examples"

# "dev" is quick for the edit-test loop; "ci" (what .ci/run selects) searches harder.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
