"""A pytest plugin that runs scenario files (``*.scenario.yaml``) as tests.

Enable it with ``-p rectify.testing.pytest_plugin`` (or ``addopts`` in the host's pytest
configuration); each scenario file found under the test paths becomes one test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rectify.testing._scenarios import run_scenario

__all__ = ["ScenarioFile", "ScenarioItem", "pytest_collect_file"]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.scenario.yaml`` files."""
    if file_path.name.endswith(".scenario.yaml"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file: one test."""

    def collect(self) -> list[pytest.Item]:
        """Return the file's one test."""
        return [ScenarioItem.from_parent(self, name=self.path.name.removesuffix(".scenario.yaml"))]


class ScenarioItem(pytest.Item):
    """Runs the scenario; a failed expectation fails the test with its message."""

    def runtest(self) -> None:
        """Run the scenario file."""
        run_scenario(self.path)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Say which file the test is."""
        return self.path, 0, f"scenario {self.name}"
