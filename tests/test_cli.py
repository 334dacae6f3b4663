"""The command line: validate, diagram and demo, their output and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rectify.cli import cli, main
from tests.conftest import WORKFLOWS

BROKEN = """\
workflow: broken
version: 1
title: 坏流程
roles: [community]
initial: start
states:
  start: {title: 开始, deadline: {working_days: 2}}
  done: {title: 完成, final: true}
events:
  finish: {from: start, to: nowhere, roles: [community]}
"""


def test_validate_shipped_folder_exits_zero_and_prints_nothing_on_stdout() -> None:
    result = CliRunner().invoke(cli, ["validate", str(WORKFLOWS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_validate_broken_file_prints_file_line_col_and_exits_one(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(bad)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    undeclared = [line for line in lines if " undeclared-state " in line]
    assert undeclared == [
        f"{bad}:10:29: error undeclared-state state 'nowhere' is not declared; declared: "
        "done, start [events.finish.to]"
    ]
    assert len(lines) == 1, "a wrong target is reported once, not echoed as a trap state"


def test_validate_missing_path_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["validate", "/no/such/folder"])
    assert result.exit_code == 2


def test_validate_without_paths_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 2


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_diagram_prints_every_state_of_hazard(fmt: str) -> None:
    result = CliRunner().invoke(cli, ["diagram", str(WORKFLOWS / "hazard.yaml"), "--format", fmt])
    assert result.exit_code == 0
    for state in ("discovered", "assigned", "planned", "fixed", "verified", "closed"):
        assert state in result.stdout
    first = "stateDiagram-v2" if fmt == "mermaid" else 'digraph "hazard"'
    assert first in result.stdout


def test_diagram_of_invalid_workflow_is_one_error_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", str(bad)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("rectify: error: ")
    assert "Traceback" not in err


def test_demo_validates_and_draws_every_shipped_workflow(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    drawn = sorted(p.name for p in tmp_path.iterdir())
    assert drawn == sorted(
        f"{w}.{s}" for w in ("hazard", "immediate", "major") for s in ("mmd", "dot")
    )
    assert "5 files valid" in result.stdout


def test_python_dash_m_rectify_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rectify", "validate", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0 errors, 0 warnings" in done.stderr
