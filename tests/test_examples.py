"""Every script in examples/ runs to completion in the suite and shows what it claims."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@functools.cache
def run_example(name: str) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` once per session, from the repository root."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def output_of(name: str) -> str:
    """Return the standard output of an example that must succeed."""
    done = run_example(name)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_runs(script: Path) -> None:
    assert output_of(script.name).strip(), "an example shows what it does"


def test_host_workflow_example_reports_the_draft_mistakes() -> None:
    out = output_of("check_host_workflow.py")
    assert "error undeclared-state state 'fixd' is not declared" in out
    assert "error undeclared-role role 'comunity' is not declared" in out
    assert "stateDiagram-v2" in out


def test_embedding_example_refuses_the_wrong_role_and_renders_the_slip() -> None:
    lines = output_of("embed_in_host.py").splitlines()
    assert "grid worker reports: 201 Created discovered deadline 2024-03-21" in lines
    assert lines[1].startswith("grid worker tries to assign: 403 Forbidden ")
    assert lines[1].endswith(
        "role 'grid_worker' may not fire it; roles that may: community, town_office"
    )
    assert "community assigns: 200 OK assigned to 某物业" in lines
    assert lines[3].startswith("assigning again: 409 Conflict ")
    assert "  notice 消防安全隐患整改通知单 虎峰镇消安〔2024〕1号 for HZ-0001" in lines
    assert lines[-1] == "3 effects delivered; 0 pending"


def test_custom_workflow_example_shows_the_guards_reason_then_completes() -> None:
    lines = output_of("custom_workflow.py").splitlines()
    assert lines[0] == "validate: 0 problems"
    assert (
        "accept refused by enough_ports: 112 e-bikes need at least 23 charging ports; 18 were built"
    ) in lines
    assert "accept: in_service (final: True), 24 ports" in lines
    assert lines[-1] == "history verifies"


def test_lookback_example_links_relapses_and_counts_them() -> None:
    out = output_of("lookback.py")
    assert "look-back sample: 4 of 10 closed cases" in out
    assert "IM-001-R1: recurrence of IM-001, count 1" in out
    assert "IM-001-R2: recurrence of IM-001-R1, count 2" in out
    assert "截至2024年11月15日，抽查已销号隐患4处，反弹1处，反弹率25.0%。" in out
    assert "已重新立案IM-001-R1" in out


def test_property_testing_example_passes_the_flow_and_finds_the_planted_bug() -> None:
    out = output_of("property_test_workflow.py")
    assert "every generated history kept both rules" in out
    assert "planted bug found: " in out
    assert "fired 'check' after firing 'clear'" in out
