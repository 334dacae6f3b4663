"""Every script in examples/ runs to completion in the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_runs(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example shows what it does"


def test_host_workflow_example_reports_the_draft_mistakes() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "check_host_workflow.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "error undeclared-state state 'fixd' is not declared" in done.stdout
    assert "error undeclared-role role 'comunity' is not declared" in done.stdout
    assert "stateDiagram-v2" in done.stdout
