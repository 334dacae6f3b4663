"""Shared test configuration: hypothesis profiles, paths to the shipped files, the demo run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import Result
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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """Run ``rectify demo`` once for the whole session; return its result and its folder.

    Tests must not change that folder: take a copy with :func:`demo_copy`.
    """
    from tests.test_cli import invoke  # noqa: PLC0415 - test_cli imports this module

    out = tmp_path_factory.mktemp("demo-run") / "out"
    result = invoke("demo", "--out", out)
    assert result.exit_code == 0, result.output
    return result, out


def demo_copy(demo_run: tuple[Result, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a fresh copy of the session's demo folder (its database included)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    shutil.copytree(demo_run[1], out)
    return out
